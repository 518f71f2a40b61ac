"""The GraphiQL explorer page, on assets this server ships (the machines are offline).

``make install`` copies React, ReactDOM and GraphiQL 3.9 (UMD) from npm into
``cmdb/web/static/vendor``; the page loads them from ``/static/vendor`` and its own boot
script from ``/graphql/graphiql.js``, so its Content-Security-Policy needs no inline
script and no other origin. A browser cannot attach a bearer token to a page load, so
the page itself is public (it holds no data); every query it sends carries the token
typed into its Headers tab, and is authenticated like any other.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>graph-cmdb: GraphiQL</title>
    <link rel="stylesheet" href="/static/vendor/graphiql.min.css">
    <style>body { margin: 0; } #graphiql { height: 100vh; }</style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL...</div>
    <script src="/static/vendor/react.production.min.js"></script>
    <script src="/static/vendor/react-dom.production.min.js"></script>
    <script src="/static/vendor/graphiql.min.js"></script>
    <script src="/graphql/graphiql.js"></script>
  </body>
</html>
"""

BOOT = """"use strict";
(function () {
  var example = [
    "# graph-cmdb. Put your token in the Headers tab below, then run this.",
    "# Saved examples: graphql/operations/*.graphql in the repository.",
    "query ServiceTree {",
    "  services {",
    "    name",
    "    kind",
    "    sla { name availabilityTarget }",
    "    dependsOn { name class runsOn { name } }",
    "  }",
    "}",
    ""
  ].join("\\n");
  var headers = JSON.stringify(
    { Authorization: "Bearer <a token from: cmdb token create>" }, null, 2);
  var fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: example,
    defaultHeaders: headers,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    defaultEditorToolsVisibility: "headers"
  }));
})();
"""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

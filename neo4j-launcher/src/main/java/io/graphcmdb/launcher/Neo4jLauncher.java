package io.graphcmdb.launcher;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * Runs an embedded Neo4j community DBMS with a Bolt port, as a stand-in for a Neo4j server
 * where Docker is not available.
 *
 * <p>Protocol with the parent process (cmdb/store/neo4j/local_server.py): exactly one line
 * {@code READY bolt://host:port} on stdout once Bolt accepts authenticated connections;
 * everything else goes to stderr. The process stops on SIGTERM/SIGINT, or when stdin reaches
 * EOF (so a test run that dies without cleaning up does not leave a JVM behind) unless
 * {@code --no-stdin-watch} is given (for the detached developer server, whose stdin is
 * /dev/null).
 */
public final class Neo4jLauncher {

    /** Environment variable read when --password is absent, to keep it out of `ps` output. */
    static final String PASSWORD_ENV = "NEO4J_LAUNCHER_PASSWORD";

    private Neo4jLauncher() {}

    /** Parsed command line; defaults match what the Python helper expects. */
    record Options(
            String host, int port, Path data, String password, boolean watchStdin, boolean forTests) {}

    public static void main(String[] args) {
        // Neo4j writes its own progress to stdout in some code paths; the parent reads stdout
        // for the READY line only, so keep the real stdout aside and point System.out at stderr.
        PrintStream protocolOut = new PrintStream(
                new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);

        Options options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("neo4j-launcher: " + e.getMessage());
            System.err.println("usage: Neo4jLauncher --data DIR [--port N] [--host H] "
                    + "[--password PW] [--no-stdin-watch] [--for-tests]");
            System.exit(2);
            return;
        }

        try {
            run(options, protocolOut);
        } catch (Throwable t) {
            System.err.println("neo4j-launcher: failed to start: " + t);
            t.printStackTrace(System.err);
            // halt, not exit: a half-started DBMS may hold non-daemon threads or hang in hooks.
            Runtime.getRuntime().halt(1);
        }
    }

    static Options parse(String[] args) {
        String host = "127.0.0.1";
        int port = 0;
        Path data = null;
        String password = System.getenv(PASSWORD_ENV);
        boolean watchStdin = true;
        boolean forTests = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--host" -> host = value(args, ++i, arg);
                case "--port" -> {
                    String raw = value(args, ++i, arg);
                    try {
                        port = Integer.parseInt(raw);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--port needs a number, got " + raw);
                    }
                    if (port < 0 || port > 65535) {
                        throw new IllegalArgumentException("--port out of range: " + port);
                    }
                }
                case "--data" -> data = Path.of(value(args, ++i, arg));
                case "--password" -> password = value(args, ++i, arg);
                case "--no-stdin-watch" -> watchStdin = false;
                case "--for-tests" -> forTests = true;
                default -> throw new IllegalArgumentException("unknown argument " + arg);
            }
        }
        if (data == null) {
            throw new IllegalArgumentException("--data DIR is required");
        }
        if (password == null || password.isEmpty()) {
            throw new IllegalArgumentException("--password (or $" + PASSWORD_ENV + ") is required");
        }
        return new Options(host, port, data.toAbsolutePath(), password, watchStdin, forTests);
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    static void run(Options options, PrintStream protocolOut) throws IOException, InterruptedException {
        Files.createDirectories(options.data());

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(options.data());
        if (options.forTests()) {
            // A test suite empties and refills the database before every test, so the
            // statistics behind each cached query plan keep diverging and Cypher kept planning
            // the same queries again (every 10 s at most, each time the data had changed
            // enough). Plans are only a matter of speed, never of results: a test server
            // keeps the first plan of each query. Measured on the Neo4j tests: 7-15 % less
            // CPU in the server, and what makes the C1-only JIT of devsupport/neo4j_local.py
            // pay (without it, C1 planned so slowly that the server used more CPU).
            builder.setConfig(GraphDatabaseSettings.cypher_min_replan_interval, Duration.ofHours(24))
                    .setConfig(GraphDatabaseSettings.query_statistics_divergence_threshold, 1.0);
        }
        DatabaseManagementService dbms = builder
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(options.host(), options.port()))
                // Local tools talk plain bolt://; TLS would only add certificate handling.
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // Bolt's Netty event loops wait a 5 s quiet period each on shutdown, which made
                // every stop take ~10 s after the stores were already closed; a local server has
                // nothing worth waiting for (these settings are internal/unsupported, dev only).
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(2))
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                // A dev/test server: keep memory and disk use small so several can run at once.
                .setConfig(GraphDatabaseSettings.pagecache_memory, 256L * 1024 * 1024)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, 16L * 1024 * 1024)
                // Preallocation would reserve the full rotation size on disk for every database.
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .build();

        AtomicBoolean stopped = new AtomicBoolean(false);
        CountDownLatch done = new CountDownLatch(1);
        Runnable shutdown = () -> {
            if (stopped.compareAndSet(false, true)) {
                System.err.println("neo4j-launcher: shutting down");
                try {
                    dbms.shutdown();
                } finally {
                    done.countDown();
                }
            }
        };
        // SIGTERM/SIGINT and System.exit all run shutdown hooks; the DBMS must be shut down
        // cleanly there or the next start has to run recovery on the store.
        Runtime.getRuntime().addShutdownHook(new Thread(shutdown, "neo4j-launcher-shutdown"));

        int port;
        try {
            setPassword(dbms, options.password());
            port = boltPort(dbms, options.port());
        } catch (RuntimeException e) {
            // main() halts on errors, skipping hooks; close the stores first so a persistent
            // data dir does not need recovery on the next start.
            shutdown.run();
            throw e;
        }
        protocolOut.println("READY bolt://" + options.host() + ":" + port);
        protocolOut.flush();

        if (options.watchStdin()) {
            Thread watcher = new Thread(() -> {
                drain(System.in);
                System.err.println("neo4j-launcher: stdin closed");
                // Runs the shutdown hook above.
                System.exit(0);
            }, "neo4j-launcher-stdin");
            watcher.setDaemon(true);
            watcher.start();
        }
        done.await();
    }

    /**
     * The built-in user starts with password "neo4j" and "change required", which Bolt
     * clients cannot use for queries. Embedded code runs with full privileges, so an
     * administration command on the system database can set the real password directly.
     */
    static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PLAINTEXT PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            System.err.println("neo4j-launcher: password of user neo4j set");
        } catch (RuntimeException e) {
            // On a persistent data dir the password is often already the requested one, and
            // Neo4j refuses to "change" a password to itself; that is the state we want.
            if (String.valueOf(e.getMessage()).contains("Old password and new password cannot be the same")) {
                System.err.println("neo4j-launcher: password of user neo4j already set");
                return;
            }
            throw e;
        }
    }

    /** With port 0 the OS picks the port; the DBMS records which one it bound. */
    static int boltPort(DatabaseManagementService dbms, int requested) {
        GraphDatabaseAPI db = (GraphDatabaseAPI) dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        ConnectorPortRegister ports = db.getDependencyResolver().resolveDependency(ConnectorPortRegister.class);
        var address = ports.getLocalAddress(ConnectorType.BOLT);
        if (address == null) {
            if (requested != 0) {
                return requested;
            }
            throw new IllegalStateException("Bolt connector did not report its port");
        }
        return address.getPort();
    }

    private static void drain(InputStream in) {
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // Input is ignored; only EOF matters.
            }
        } catch (IOException e) {
            // A broken stdin means the parent is gone, same as EOF.
        }
    }
}

// The outbox (events written with their changes), webhook rules and their deliveries.
CREATE CONSTRAINT event_id IF NOT EXISTS FOR (x:OutboxEvent) REQUIRE x.id IS UNIQUE;
CREATE CONSTRAINT event_seq IF NOT EXISTS FOR (x:OutboxEvent) REQUIRE x.seq IS UNIQUE;
CREATE CONSTRAINT webhook_rule_id IF NOT EXISTS FOR (x:WebhookRule) REQUIRE x.id IS UNIQUE;
CREATE CONSTRAINT delivery_id IF NOT EXISTS FOR (x:WebhookDelivery) REQUIRE x.id IS UNIQUE;
CREATE CONSTRAINT outbox_cursor_name IF NOT EXISTS FOR (x:OutboxCursor) REQUIRE x.name IS UNIQUE;
CREATE INDEX delivery_due IF NOT EXISTS FOR (x:WebhookDelivery) ON (x.state, x.next_at);
CREATE INDEX delivery_rule IF NOT EXISTS FOR (x:WebhookDelivery) ON (x.rule_id, x.event_seq);

// The broker part's door: the RabbitMQ edge that every other part uses. Other parts import this
// file only.

export { MAX_REPORT_ROWS, parseReport, type ReportBody, type ReportRow } from './accounting.js';
export * as amqp from './amqp.js';
export { BrokerConnection, type BrokerConnectionOptions, coalesceWrites, redact } from './connection.js';
export { ACK, type BatchHandler, BatchingConsumer, type Outcome } from './consumer.js';
export { type PublishingEdge, publishingEdge } from './edge.js';
export { type PublishFields, publishFields, sendPublish } from './publish-fields.js';
export { ConfirmedPublisher, eventProperties } from './publisher.js';

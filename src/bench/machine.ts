// What the figures were measured on: cores, memory, CPU model, Node and RabbitMQ versions.
import { cpus, release, totalmem } from 'node:os';
import { connectBroker } from './util.js';

export interface Machine {
  cores: number;
  memory_mb: number;
  cpu: string;
  os: string;
  node: string;
  rabbitmq: string;
}

/** The broker's version, from the server properties of an AMQP connection. */
async function rabbitmqVersion(url: string): Promise<string> {
  const conn = await connectBroker(url);
  try {
    const props = (conn.connection as unknown as { serverProperties?: Record<string, unknown> })
      .serverProperties;
    return String(props?.version ?? 'unknown');
  } finally {
    await conn.close();
  }
}

export async function machine(amqpUrl: string): Promise<Machine> {
  const list = cpus();
  return {
    cores: list.length,
    memory_mb: Math.round(totalmem() / 2 ** 20),
    cpu: list[0]?.model.trim() ?? 'unknown',
    os: `${process.platform} ${release()}`,
    node: process.version,
    rabbitmq: await rabbitmqVersion(amqpUrl),
  };
}

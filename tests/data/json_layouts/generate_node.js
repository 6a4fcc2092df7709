const which = process.argv[2];
class UpstreamError extends Error { constructor(msg, opts) { super(msg, opts); this.name = 'UpstreamError'; } }
function failure() {
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:8081');
  return new UpstreamError('load customer 7 failed', { cause });
}
if (which === 'pino') {
  const log = require('pino')();
  log.info({ request_id: 'aa11bb22', status: 201 }, 'order accepted');
  log.error({ request_id: 'cc33dd44', err: failure() }, 'order failed');
} else {
  const bunyan = require('bunyan');
  const log = bunyan.createLogger({ name: 'crm', serializers: bunyan.stdSerializers });
  log.info({ request_id: 'aa11bb22', status: 201 }, 'order accepted');
  log.error({ request_id: 'cc33dd44', err: failure() }, 'order failed');
}

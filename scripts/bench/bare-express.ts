/**
 * The webhook benchmark's yardstick: a bare Express handler from forny's own dependencies that
 * parses the same form and answers the same TwiML, nothing stored, nothing checked.
 */
import express from 'express';

const app = express();
app.post('/sms/inbound', express.urlencoded({ extended: false, limit: '64kb' }), (_req, res) => {
  res.status(200).type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response/>');
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));

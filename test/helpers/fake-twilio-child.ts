/**
 * A FakeTwilio in a process of its own (see fake-twilio-process.ts): its clock stamps what it
 * accepts without waiting for the test process (a burst's client, mocha's large heap and its pauses).
 */
import { FakeTwilio } from './fake-twilio.js';

const twilio = await new FakeTwilio().start();
let reported = 0;
const report = () => {
  const fresh = twilio.messages.slice(reported);
  reported += fresh.length;
  if (fresh.length > 0) process.send?.({ kind: 'accepted', messages: fresh.map((message) => ({ sid: message.sid, to: message.to, body: message.body, at: message.createdAt.getTime() })) });
};
setInterval(report, 50);
process.on('message', (message: unknown) => {
  if (message !== 'sync') return;
  report();
  process.send?.({ kind: 'synced' });
});
process.on('disconnect', () => void twilio.stop().then(() => process.exit(0)));
process.send?.({ kind: 'ready', url: twilio.url, accountSid: twilio.accountSid, authToken: twilio.authToken });

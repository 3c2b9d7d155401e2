// Handlers the Node.js runtime tests run (CommonJS); each is named by the behaviour it shows.
"use strict";

// -- async handlers ------------------------------------------------------------------------

exports.echo = async (event, context) => ({
  event,
  requestId: context.awsRequestId,
  arn: context.invokedFunctionArn,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  clientContext: context.clientContext,
  remainingMs: context.getRemainingTimeInMillis(),
  pid: process.pid,
});

exports.env = async () => ({ env: process.env, cwd: process.cwd(), node: process.version });

exports.nothing = async () => {
  console.log("returning nothing");
};

exports.remaining = async (event, context) => {
  const before = context.getRemainingTimeInMillis();
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { before, after: context.getRemainingTimeInMillis() };
};

exports.rejected = async () => {
  throw new Error("rejected");
};

exports.rejectedWithString = async () => {
  throw "plain"; // eslint-disable-line no-throw-literal
};

exports.sleep = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, event.ms));
  return "woke";
};

exports.big = async () => "x".repeat(7000000);

exports.circular = async () => {
  const a = {};
  a.self = a;
  return a;
};

exports.neverSettles = async () => new Promise(() => {});

exports.lostRejection = async () => {
  Promise.reject(new Error("nobody awaits me"));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return "too late";
};

exports.nested = { deeper: { handler: async () => "nested" } };

exports.notAFunction = 42;

// -- plain and callback handlers -----------------------------------------------------------

exports.thrown = (event, context, callback) => {
  throw new Error("thrown");
};

exports.callbackResult = (event, context, callback) => {
  callback(null, { ok: true });
};

// The result is serialised when the invocation completes: a timer that changes it shows
// whether the runtime waited for the event loop to drain.
exports.callbackWaits = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  const result = { timerRan: false };
  setTimeout(() => {
    result.timerRan = true;
  }, 200);
  callback(null, result);
};

exports.callbackString = (event, context, callback) => callback("oops");
exports.callbackTypeError = (event, context, callback) => callback(new TypeError("x"));
exports.callbackObject = (event, context, callback) => callback({ a: 1 });
exports.callbackBadError = (event, context, callback) => {
  const error = new Error("unreadable");
  Object.defineProperty(error, "stack", {
    get() {
      throw new Error("no stack for you");
    },
  });
  callback(error);
};

exports.firstCompletionWins = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  callback(null, "first");
  callback(null, "second");
  context.succeed("third");
  context.fail(new Error("fourth"));
};

exports.succeed = (event, context) => context.succeed({ via: "succeed" });
exports.fail = (event, context) => context.fail(new RangeError("failed"));
exports.failWithNothing = (event, context) => context.fail();
exports.done = (event, context) => context.done(null, "done");
exports.doneWithError = (event, context) => context.done(new Error("done badly"));

// A plain handler that never calls back answers null once the event loop drains.
exports.returnsWithoutCallback = (event, context, callback) => {
  setTimeout(() => console.log("timer ran"), 50);
};

exports.uncaught = (event, context, callback) => {
  setTimeout(() => {
    throw new Error("thrown from a timer");
  }, 10);
};

exports.crash = () => {
  process.exit(3);
};

exports.chatty = async () => {
  console.log("hello from node");
  console.error("and an error line");
  return "ok";
};

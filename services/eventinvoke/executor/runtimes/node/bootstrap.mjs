// Node.js runtime for eventinvoke sandboxes: a small Lambda Runtime API client.
//
// Started as `node bootstrap.mjs` with the sandbox's environment (AWS_LAMBDA_RUNTIME_API,
// _HANDLER, LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV, ...). Node built-ins only, no npm packages.
// It follows AWS's Node.js runtime interface client (aws-lambda-nodejs-runtime-interface-client,
// "the RIC" below) wherever a function can tell the difference: how the handler string is
// resolved, CommonJS vs ES modules, async and callback handlers, context.succeed/fail/done,
// callbackWaitsForEmptyEventLoop, and the error objects posted to the Runtime API.
//
// Two generations of error objects (docs/aws-behaviour.md §1.5, §6.6):
//  * current runtimes (nodejs14.x and later): {"errorType", "errorMessage", "trace"} where
//    trace is err.stack split into lines, exactly as the RIC posts it;
//  * nodejs12.x and older (the 2019 shape of the Destinations announcement):
//    {"errorMessage", "errorType", "stackTrace"} where stackTrace holds the stack frames with
//    their "at " prefix stripped. Errors the function reports itself (callback(err),
//    context.fail/done(err), a rejected promise) are sent with the header
//    `Lambda-Runtime-Function-Error-Type: Handled`; the executor reports those as
//    functionError "Handled" for these runtimes only. Everything else is "Unhandled".

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);
const API_PREFIX = "/2018-06-01/runtime";
const ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type";
const HANDLED = "Handled";

// The runtime's generation, from AWS_EXECUTION_ENV (AWS_Lambda_nodejs20.x); plain "nodejs" is
// Node 0.10. The RIC reads the same variable to decide on the callback deprecation.
const EXECUTION_ENV = process.env.AWS_EXECUTION_ENV || "";
const GENERATION = (() => {
  const match = /^AWS_Lambda_nodejs(\d+)?/.exec(EXECUTION_ENV);
  return match ? parseInt(match[1] || "0", 10) : 0;
})();
const LEGACY_ERRORS = GENERATION <= 12; // the 2019 error shape and Handled callback errors
const CALLBACKS_REMOVED = GENERATION >= 24; // Runtime.CallbackHandlerDeprecated (RIC)

// -- the Runtime API client --------------------------------------------------------------

const [API_HOST, API_PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || "").split(":");
// One keep-alive connection, like the RIC's agent. Idle keep-alive sockets are unref'd by
// Node, so they never keep the event loop alive (callbackWaitsForEmptyEventLoop needs that).
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const options = {
      host: API_HOST,
      port: parseInt(API_PORT, 10),
      path: API_PREFIX + urlPath,
      method,
      agent,
      headers: { ...(headers || {}) },
    };
    if (body !== undefined) {
      options.headers["Content-Length"] = Buffer.byteLength(body);
    }
    // No timeout: /next blocks until an event arrives (docs/aws-behaviour.md §6.1).
    const req = http.request(options, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function post(urlPath, body, headers) {
  return request("POST", urlPath, body, { "Content-Type": "application/json", ...headers });
}

// The RIC's _trySerializeResponse: undefined becomes null.
function serialise(value) {
  return JSON.stringify(value === undefined ? null : value);
}

// -- error objects -----------------------------------------------------------------------

function isErrorLike(obj) {
  return (
    obj &&
    typeof obj.name === "string" &&
    typeof obj.message === "string" &&
    typeof obj.stack === "string" &&
    obj.name &&
    obj.message &&
    obj.stack
  );
}

// Stack frames as the 2019 runtime printed them: "at " stripped, our own frames left out.
function legacyFrames(stack) {
  return stack
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.replace(/^\s+at /, ""))
    .filter((frame) => !frame.includes(SELF) && !frame.includes("node:internal"));
}

// The RIC's Errors.toRapidResponse, in the shape of the runtime's generation.
function errorObject(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      if (LEGACY_ERRORS) {
        return {
          errorMessage: error.message,
          errorType: error.name,
          stackTrace: legacyFrames(error.stack),
        };
      }
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split("\n") };
    }
    // callback("oops") -> errorType "string"; callback({a: 1}) -> "object", "[object Object]".
    if (LEGACY_ERRORS) {
      return { errorMessage: error.toString(), errorType: typeof error, stackTrace: [] };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_err) {
    const errorMessage =
      "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack";
    if (LEGACY_ERRORS) return { errorMessage, errorType: "handled", stackTrace: [] };
    return { errorType: "handled", errorMessage, trace: [] };
  }
}

// Runtime.* errors the runtime raises itself (the RIC's Errors.js classes).
function runtimeError(name, message) {
  const error = new Error(message);
  error.name = `Runtime.${name}`;
  return error;
}

// The RIC's Errors.toFormatted: the error with its enumerable properties, tab-prefixed.
function formatted(error) {
  try {
    return (
      "\t" +
      JSON.stringify(error, (_key, value) => {
        if (!(value instanceof Error)) return value;
        const out = { errorType: value.name, errorMessage: value.message, code: value.code };
        Object.assign(out, value);
        if (typeof value.stack === "string") out.stack = value.stack.split("\n");
        return out;
      })
    );
  } catch (_err) {
    return "\t" + JSON.stringify(errorObject(error));
  }
}

// -- logging: console.* lines as the Lambda Node.js runtime writes them -------------------

let currentRequestId; // "undefined" in lines written during init, as on AWS

function patchConsole() {
  const write = (level) =>
    function (...args) {
      const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}\n`;
      process.stdout.write(line); // a file: synchronous, so it is in the log before we answer
    };
  console.log = write("INFO");
  console.info = write("INFO");
  console.warn = write("WARN");
  console.error = write("ERROR");
  console.debug = write("DEBUG");
  console.trace = write("TRACE");
  console.fatal = write("FATAL");
}

function logError(title, error) {
  console.error(title, formatted(error));
}

// -- loading the handler (the RIC's UserFunction.load) ------------------------------------

function packageTypeIsModule(folder) {
  // The nearest package.json decides whether .js is an ES module; node_modules stops the walk.
  if (folder.endsWith("/node_modules")) return false;
  const pj = path.join(folder, "package.json");
  if (fs.existsSync(pj)) {
    try {
      return JSON.parse(fs.readFileSync(pj)).type === "module";
    } catch (_err) {
      return false;
    }
  }
  const parent = path.resolve(folder, "..");
  return parent === folder ? false : packageTypeIsModule(parent);
}

function tryRequire(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function tryImport(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

async function loadModule(appRoot, moduleRoot, module) {
  const base = path.resolve(appRoot, moduleRoot, module);
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const isModule = packageTypeIsModule(path.dirname(base));
  if (!isModule) {
    const loaded = tryRequire(base + ".js");
    if (loaded) return loaded;
  }
  // .js (as an ES module under "type": "module"), then .mjs, then .cjs, as the RIC does.
  const loaded =
    (isModule && (await tryImport(base + ".js"))) ||
    (await tryImport(base + ".mjs")) ||
    tryRequire(base + ".cjs");
  if (loaded) return loaded;
  // Finally a plain require, relative to the task root (a module in node_modules, say).
  return require(require.resolve(module, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes("..")) {
    throw runtimeError(
      "MalformedHandlerName",
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(moduleAndHandler));
  const match = /^([^.]*)\.(.*)$/.exec(moduleAndHandler);
  if (!match) throw runtimeError("MalformedHandlerName", "Bad handler");
  const [, module, handlerPath] = match;

  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, module);
  } catch (e) {
    // The RIC wraps the original error: its message is the error's string form.
    if (e instanceof SyntaxError) throw runtimeError("UserCodeSyntaxError", String(e));
    if (e && e.code === "MODULE_NOT_FOUND") throw runtimeError("ImportModuleError", String(e));
    throw e;
  }
  const handler = handlerPath.split(".").reduce((obj, key) => obj && obj[key], app);
  if (!handler) throw runtimeError("HandlerNotFound", `${fullHandler} is undefined or not exported`);
  if (typeof handler !== "function") {
    throw runtimeError("HandlerNotFound", `${fullHandler} is not a function`);
  }
  const isAsync = handler.constructor && handler.constructor.name === "AsyncFunction";
  if (CALLBACKS_REMOVED && !isAsync && handler.length >= 3) {
    throw runtimeError(
      "CallbackHandlerDeprecated",
      "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.",
    );
  }
  return { handler, isAsync };
}

// -- the invoke loop (the RIC's Runtime + CallbackContext) --------------------------------

// The 'beforeExit' hook: fires when the event loop has drained. The RIC uses it to finish a
// callback invocation that waits for an empty event loop, and for a handler that returned
// without calling back.
let beforeExit = null;
process.on("beforeExit", () => {
  const hook = beforeExit;
  beforeExit = null;
  if (hook) hook();
});

// What an uncaught exception or unhandled rejection does: init error before the first
// invocation, invocation error during one; either way the process then exits (RIC).
let onFatal = async (error, exitCode) => {
  await postInitError(error);
  process.exit(exitCode);
};

process.on("uncaughtException", (error) => {
  logError("Uncaught Exception", error);
  onFatal(error, 129);
});

process.on("unhandledRejection", (reason) => {
  const error = runtimeError("UnhandledPromiseRejection", String(reason));
  error.reason = reason;
  logError("Unhandled Promise Rejection", error);
  onFatal(error, 128);
});

async function postInitError(error) {
  const body = errorObject(error);
  await post("/init/error", serialise(body), { [ERROR_TYPE_HEADER]: body.errorType });
}

async function postInvocationError(requestId, error, handled) {
  const body = errorObject(error);
  let errorType = body.errorType;
  if (LEGACY_ERRORS && handled) errorType = HANDLED; // see the header comment
  await post(`/invocation/${encodeURIComponent(requestId)}/error`, serialise(body), {
    [ERROR_TYPE_HEADER]: errorType,
  });
}

async function postResponse(requestId, result) {
  let body;
  try {
    body = serialise(result);
  } catch (_err) {
    const error = new Error("Unable to stringify response body");
    logError("Invoke Error", error);
    await postInvocationError(requestId, error, false);
    return;
  }
  await post(`/invocation/${encodeURIComponent(requestId)}/response`, body);
}

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

// How the handler is called shows in its stack frames. The RIC calls it as a method of its
// Runtime object (frames like "at Runtime.handler (file:///var/task/index.mjs:2:9)"); the
// 2019 runtime's frames read "exports.handler (/var/task/index.js:18:18)": a plain call.
class Runtime {
  constructor(handler) {
    this.handler = handler;
  }
}

function legacyCall(handler, event, context, callback) {
  return handler(event, context, callback);
}

function nextIteration(handlerInfo) {
  setImmediate(() => {
    handleOnce(handlerInfo).catch((err) => {
      console.log(`Unexpected Top Level Error: ${err.toString()}`);
      process.exit(1);
    });
  });
}

async function handleOnce(handlerInfo) {
  const next = await request("GET", "/invocation/next");
  if (next.status !== 200) {
    console.log(`Runtime API /next returned ${next.status}: ${next.body}`);
    process.exit(1);
  }
  const headers = next.headers;
  const requestId = headers["lambda-runtime-aws-request-id"];
  const deadline = parseInt(headers["lambda-runtime-deadline-ms"] || "", 10);
  currentRequestId = requestId;
  if (headers["lambda-runtime-trace-id"]) {
    process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  onFatal = async (error, exitCode) => {
    await postInvocationError(requestId, error, false);
    process.exit(exitCode);
  };

  // Only the first completion counts (the RIC's onlyAllowFirstCall + isCompleteInvoked).
  let finished = false;
  const scheduleNext = () => nextIteration(handlerInfo);
  const fail = (err, handled) => {
    if (finished) return;
    finished = true;
    beforeExit = null;
    logError("Invoke Error", err);
    postInvocationError(requestId, err, handled).then(scheduleNext, fatalApiError);
  };
  const complete = (result) => {
    if (finished) {
      console.error(
        "Invocation has already been reported as done. Cannot call complete more than once per invocation.",
      );
      return;
    }
    finished = true;
    beforeExit = null;
    postResponse(requestId, result).then(scheduleNext, fatalApiError);
  };

  let waitForEmptyEventLoop = true;
  const done = (err, result, handled = true) => {
    if (err !== undefined && err !== null) fail(err, handled);
    else complete(result);
  };
  // callback, succeed, fail and done share one "first call wins" guard, as in the RIC.
  let called = false;
  const once =
    (fn) =>
    (...args) => {
      if (called) return;
      called = true;
      fn(...args);
    };
  const callback = once((err, result) => {
    beforeExit = null;
    if (err !== undefined && err !== null) {
      fail(err, true);
    } else if (!waitForEmptyEventLoop) {
      complete(result);
    } else {
      // Answer once everything the function left running has finished.
      beforeExit = () => setImmediate(() => complete(result));
    }
  });
  // A synchronous throw is caught by the runtime (RIC: callback(err)); never "Handled".
  const thrown = once((err) => done(err, null, false));

  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => done(null, result)),
    // fail() with no error reports the string "handled" (RIC).
    fail: once((err) => done(err === undefined || err === null ? "handled" : err, null)),
    done: once((err, result) => done(err, result)),
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    awsRequestId: requestId,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };

  // A handler that returns without completing: a plain one answers null once the event loop
  // drains; an async one whose promise never settles fails (the RIC's Runtime.NodeJsExit).
  beforeExit = () => {
    if (finished) return;
    if (handlerInfo.isAsync) {
      fail(
        runtimeError(
          "NodeJsExit",
          "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled.",
        ),
        false,
      );
    } else {
      complete(null);
    }
  };

  try {
    context.clientContext = parseJsonHeader(headers["lambda-runtime-client-context"], "ClientContext");
    context.identity = parseJsonHeader(headers["lambda-runtime-cognito-identity"], "CognitoIdentity");
    const body = next.body.toString("utf8");
    const event = JSON.parse(body === "" ? "{}" : body);
    const result = LEGACY_ERRORS
      ? legacyCall(handlerInfo.handler, event, context, callback)
      : new Runtime(handlerInfo.handler).handler(event, context, callback);
    if (result && typeof result.then === "function") {
      // A promise: its value is the response, its rejection an error the function reported.
      result.then(context.succeed, context.fail);
    }
  } catch (err) {
    thrown(err);
  }
}

function fatalApiError(err) {
  console.log(`Runtime API request failed: ${err}`);
  process.exit(1);
}

async function main() {
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handlerInfo;
  try {
    handlerInfo = await loadHandler(appRoot, process.env._HANDLER || "");
  } catch (error) {
    logError("Uncaught Exception", error); // what the RIC logs for a failed init
    await postInitError(error);
    process.exit(129);
  }
  nextIteration(handlerInfo);
}

main();

'use strict';
/**
 * lambench's Node.js runtime: the process inside each Node.js execution environment.
 *
 * It speaks the Lambda Runtime API (HTTP/1.1) to lambench's engine over the socketpair the
 * engine hands it (`_LAMBENCH_RUNTIME_API_FD`), as lambench's Python runtime does, and behaves
 * as AWS's Node.js runtime interface client does (lambda-facts §3.2, §4.3, §4.4, §5.3b): handler
 * resolution, async and callback handlers, `callbackWaitsForEmptyEventLoop`, the context object,
 * the error shapes and the log lines.
 *
 * The socket is read and written with blocking system calls, never through the event loop:
 * the runtime holds no handle of its own, so Node's `beforeExit` fires exactly when the
 * handler's own work is done (what `callbackWaitsForEmptyEventLoop` waits for), and while it
 * waits for the next event nothing left over from the last one runs, as in a frozen
 * environment on AWS.
 */

const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const RUNTIME_PATH = '/2018-06-01/runtime';
const CRLF = '\r\n';
// AWS's module-not-found message names the runtime's own entry point (lambda-facts §4.4).
const AWS_REQUIRE_STACK = '/var/runtime/index.mjs';
const NODE_JS_EXIT_MESSAGE =
  'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly ' +
  'caused by a Promise that was never settled. For more information, see ' +
  'https://nodejs.org/docs/latest/api/process.html#exit-codes';

// -- the Runtime API, over a blocking descriptor ------------------------------------------------

class RuntimeApi {
  constructor(fd, address) {
    this.fd = fd;
    this.host = `Host: ${address}\r\n`;
    this.buffer = Buffer.alloc(0);
    this.nextRequest = Buffer.from(`GET ${RUNTIME_PATH}/invocation/next HTTP/1.1\r\n${this.host}\r\n`, 'latin1');
    this.chunk = Buffer.allocUnsafe(65536);
  }

  write(data) {
    let offset = 0;
    while (offset < data.length) {
      offset += fs.writeSync(this.fd, data, offset, data.length - offset);
    }
  }

  read() {
    // One whole response: status line, headers, then Content-Length bytes of body.
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buffer.toString('latin1', 0, end).split(CRLF);
        const status = parseInt(head[0].slice(9, 12), 10);
        const headers = {};
        for (let i = 1; i < head.length; i++) {
          const colon = head[i].indexOf(':');
          headers[head[i].slice(0, colon).toLowerCase()] = head[i].slice(colon + 1).trim();
        }
        const length = parseInt(headers['content-length'] || '0', 10);
        const start = end + 4;
        while (this.buffer.length < start + length) this.fill();
        const body = this.buffer.subarray(start, start + length);
        this.buffer = this.buffer.subarray(start + length);
        return { status, headers, body };
      }
      this.fill();
    }
  }

  fill() {
    let count;
    for (;;) {
      try {
        count = fs.readSync(this.fd, this.chunk, 0, this.chunk.length, null);
        break;
      } catch (error) {
        if (error.code !== 'EAGAIN' && error.code !== 'EINTR') throw error;
      }
    }
    if (count === 0) throw new Error('Runtime API closed the connection');
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, this.chunk.subarray(0, count)]) : Buffer.from(this.chunk.subarray(0, count));
  }

  post(route, headers, body) {
    const head = `POST ${RUNTIME_PATH}${route} HTTP/1.1\r\n${this.host}${headers}Content-Length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'utf8'), body]);
  }

  next() {
    this.write(this.nextRequest);
    return this.expectEvent();
  }

  expectEvent() {
    const reply = this.read();
    if (reply.status !== 200) throw new Error(`GET invocation/next answered ${reply.status}`);
    return reply;
  }

  // The answer and the next `GET` in one write (pipelined, as lambench's Python runtime does).
  postThenNext(route, headers, body) {
    this.write(Buffer.concat([this.post(route, headers, body), this.nextRequest]));
    const reply = this.read();
    if (reply.status < 200 || reply.status > 299) throw new Error(`POST ${route} answered ${reply.status}`);
    return this.expectEvent();
  }

  postOnly(route, headers, body) {
    this.write(this.post(route, headers, body));
    return this.read();
  }
}

// -- logs (lambda-facts §5.3b, §5.4) -------------------------------------------------------------

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const jsonLogs = process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
const minimumLevel = Math.max(0, LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || 'TRACE').toUpperCase()));
let currentRequestId;

function writeOut(text) {
  const data = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(1, data, offset, data.length - offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') return;
    }
  }
}

// JSON mode names an error by its constructor (`ImportModuleError`, not `Runtime.ImportModuleError`).
function errorFields(error) {
  return {
    errorType: (error.constructor && error.constructor.name) || error.name,
    errorMessage: error.message,
    stackTrace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
    ...ownProperties(error),
  };
}

function ownProperties(error) {
  const own = {};
  for (const key of Object.keys(error)) own[key] = error[key];
  return own;
}

function logLine(level, args) {
  const timestamp = new Date().toISOString();
  if (jsonLogs) {
    const record = { timestamp, level, requestId: currentRequestId };
    const error = args.find((arg) => arg instanceof Error);
    if (args.length === 1 && error) {
      record.message = errorFields(error);
    } else {
      record.message = util.format(...args);
      if (error) Object.assign(record, errorFields(error));
    }
    writeOut(`${JSON.stringify(record)}\n`);
    return;
  }
  // `console.log()` prints `undefined`, as AWS's runtime formats (message, ...rest).
  const message = (args.length ? util.format(...args) : 'undefined').replace(/\n/g, '\r');
  writeOut(`${timestamp}\t${currentRequestId}\t${level}\t${message}\n`);
}

function patchConsole() {
  const methods = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', log: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'FATAL' };
  for (const [name, level] of Object.entries(methods)) {
    console[name] = LEVELS.indexOf(level) >= minimumLevel ? (...args) => logLine(level, args) : () => {};
  }
}

// -- errors (lambda-facts §4.3, §4.4) ------------------------------------------------------------

// One class per kind, named as AWS's are: `Runtime.<Kind>` as the error's name, `<Kind>` as its class.
const runtimeErrorClasses = {};
for (const kind of ['ImportModuleError', 'HandlerNotFound', 'MalformedHandlerName', 'UserCodeSyntaxError', 'NodeJsExit', 'UnhandledPromiseRejection']) {
  const cls = { [kind]: class extends Error {} }[kind];
  cls.prototype.name = `Runtime.${kind}`;
  runtimeErrorClasses[kind] = cls;
}

function RuntimeError(kind, message) {
  return new runtimeErrorClasses[kind](message);
}

function isRuntimeError(error) {
  return Object.values(runtimeErrorClasses).some((cls) => error instanceof cls);
}

function rapidError(value) {
  if (value instanceof Error || (value && typeof value.name === 'string' && typeof value.message === 'string' && typeof value.stack === 'string')) {
    return {
      errorType: value.name,
      errorMessage: value.message,
      trace: typeof value.stack === 'string' ? value.stack.split('\n') : [],
    };
  }
  try {
    return { errorType: typeof value, errorMessage: String(value), trace: [] };
  } catch (_) {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack' };
  }
}

function errorBody(error) {
  // `\x7F` would break the header it is copied into; AWS writes it as %7F (lambda-facts §4.3).
  return Buffer.from(JSON.stringify(error).replace(/\x7F/g, '%7F'), 'utf8');
}

// `Invoke Error`, `Uncaught Exception`, `Unhandled Promise Rejection`: console.error(label, '\t' + JSON)
// in text mode (so a space, then a tab), the error alone in JSON mode.
function logError(label, value) {
  if (jsonLogs) {
    logLine('ERROR', [value instanceof Error ? value : rapidError(value)]);
    return;
  }
  let shown;
  if (value instanceof Error) {
    shown = { errorType: value.name, errorMessage: value.message };
    if (value.code !== undefined) shown.code = value.code;
    Object.assign(shown, ownProperties(value));
    shown.stack = typeof value.stack === 'string' ? value.stack.split('\n') : [];
  } else {
    const rapid = rapidError(value);
    shown = { errorType: rapid.errorType, errorMessage: rapid.errorMessage, stack: rapid.trace || [] };
  }
  logLine('ERROR', [label, `\t${JSON.stringify(shown)}`]);
}

// -- the handler (lambda-facts §4.4 "Node handler resolution") -----------------------------------

function moduleType(directory, root) {
  // The nearest package.json decides whether a `.js` file is an ES module.
  let current = directory;
  for (;;) {
    const candidate = path.join(current, 'package.json');
    if (fs.existsSync(candidate)) {
      try {
        return JSON.parse(fs.readFileSync(candidate, 'utf8')).type === 'module' ? 'module' : 'commonjs';
      } catch (_) {
        return 'commonjs';
      }
    }
    const parent = path.dirname(current);
    if (parent === current || !current.startsWith(root)) return 'commonjs';
    current = parent;
  }
}

async function loadModule(taskRoot, moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  for (const extension of ['', '.js', '.mjs', '.cjs']) {
    const file = base + extension;
    if (!fs.existsSync(file)) continue;
    // No extension: required (a directory too); `.js` by its package.json's type; `.mjs` imported.
    const esm = extension === '.mjs' || (extension === '.js' && moduleType(path.dirname(file), taskRoot) === 'module');
    const loaded = esm ? await import(pathToFileURL(file).href) : require(file);
    if (loaded) return loaded; // a falsy export falls through to the next candidate, as on AWS
  }
  try {
    return require(require.resolve(moduleName, { paths: [taskRoot, path.resolve(taskRoot, moduleRoot)] }));
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(`'${moduleName}'`)) {
      throw RuntimeError('ImportModuleError', `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${AWS_REQUIRE_STACK}`);
    }
    throw error;
  }
}

async function loadHandler(taskRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw RuntimeError('MalformedHandlerName', `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const moduleRoot = path.dirname(fullHandler);
  const base = path.basename(fullHandler);
  const dot = base.indexOf('.');
  if (dot <= 0 || dot === base.length - 1) throw RuntimeError('MalformedHandlerName', 'Bad handler');
  const moduleName = base.slice(0, dot);
  const property = base.slice(dot + 1);
  let loaded;
  try {
    loaded = await loadModule(taskRoot, moduleRoot, moduleName);
  } catch (error) {
    if (isRuntimeError(error)) throw error;
    if (error instanceof SyntaxError) throw RuntimeError('UserCodeSyntaxError', String(error));
    // CommonJS's MODULE_NOT_FOUND only: an ES module's missing import (ERR_MODULE_NOT_FOUND) is
    // reported as the Error it is, as AWS's runtime does.
    if (error && error.code === 'MODULE_NOT_FOUND') throw RuntimeError('ImportModuleError', String(error));
    throw error;
  }
  let handler = loaded;
  for (const part of property.split('.')) {
    handler = handler == null ? undefined : handler[part];
  }
  if (handler === undefined) throw RuntimeError('HandlerNotFound', `${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw RuntimeError('HandlerNotFound', `${fullHandler} is not a function`);
  return handler;
}

// -- response streaming (awslambda.streamifyResponse) -------------------------------------------

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

// The stream a streaming handler writes to. lambench collects it and posts it when the handler is
// done, in streaming mode, so the Invoke API and a RESPONSE_STREAM function URL read the whole
// body at the end rather than as it is written (the engine has no chunked answers yet).
class ResponseStream extends require('stream').Writable {
  constructor() {
    super();
    this.chunks = [];
    this.contentType = 'application/octet-stream';
    this.prelude = null;
    this.written = false;
  }

  setContentType(type) {
    if (this.written) throw new Error('Cannot set content-type, too late.');
    this.contentType = type;
  }

  _write(chunk, encoding, callback) {
    this.written = true;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
    callback();
  }

  body() {
    const body = Buffer.concat(this.chunks);
    if (this.prelude === null) return body;
    // An HTTP integration response: the prelude as JSON, then eight NUL bytes, then the body.
    return Buffer.concat([Buffer.from(this.prelude, 'utf8'), Buffer.alloc(8), body]);
  }
}

function installAwsLambdaGlobal() {
  const flag = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (flag === '1' || flag === 'true') return;
  globalThis.awslambda = {
    streamifyResponse(handler) {
      handler[STREAMING] = 'response';
      return handler;
    },
    HttpResponseStream: {
      from(stream, prelude) {
        stream.setContentType(HTTP_INTEGRATION);
        stream.prelude = JSON.stringify(prelude);
        return stream;
      },
    },
  };
}

// -- invocations --------------------------------------------------------------------------------

function parseHeaderJson(value, what) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${what} as json: ${error.message}`);
  }
}

const environment = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
  logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
};

class Invocation {
  constructor(runtime, reply) {
    this.runtime = runtime;
    this.headers = reply.headers;
    this.body = reply.body;
    this.requestId = reply.headers['lambda-runtime-aws-request-id'];
    this.finished = false;
    this.pending = null; // a callback's outcome waiting for the event loop to drain
    this.settled = false; // the handler's promise settled, or its callback was called
    // AWS judges by the function itself: an `async` handler whose promise never settles is an error.
    this.asyncHandler = false;
  }

  start(handler) {
    if (handler[STREAMING] === 'response') {
      this.startStreaming(handler);
      return;
    }
    this.asyncHandler = handler.constructor && handler.constructor.name === 'AsyncFunction';
    this.prepare();
    const { headers, context } = this;
    const invocation = this;
    let event;
    try {
      context.clientContext = parseHeaderJson(headers['lambda-runtime-client-context'], 'ClientContext');
      context.identity = parseHeaderJson(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity');
      event = (headers['content-type'] || 'application/json').startsWith('application/json') ? JSON.parse(this.body.toString('utf8')) : this.body.toString('utf8');
    } catch (error) {
      this.finish(error, undefined);
      return;
    }
    let result;
    try {
      result = handler(event, context, (error, value) => invocation.callback(error, value));
    } catch (error) {
      this.finish(error, undefined);
      return;
    }
    if (result && typeof result.then === 'function') {
      result.then(
        (value) => invocation.settle(() => invocation.finish(null, value)),
        (error) => invocation.settle(() => invocation.finish(error === undefined ? new Error('undefined') : error, undefined)),
      );
    }
  }

  // The context, and what the invocation sets in the process (request id, trace id).
  prepare() {
    const headers = this.headers;
    currentRequestId = this.requestId;
    const trace = headers['lambda-runtime-trace-id'];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    const deadline = parseInt(headers['lambda-runtime-deadline-ms'] || '0', 10);
    const invocation = this;
    this.context = {
      callbackWaitsForEmptyEventLoop: true,
      functionVersion: environment.functionVersion,
      functionName: environment.functionName,
      memoryLimitInMB: environment.memoryLimitInMB,
      logGroupName: environment.logGroupName,
      logStreamName: environment.logStreamName,
      clientContext: undefined,
      identity: undefined,
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: this.requestId,
      getRemainingTimeInMillis: () => deadline - Date.now(),
      // done/succeed/fail answer at once; only the callback waits for the event loop.
      succeed: (result) => invocation.settle(() => invocation.finish(null, result)),
      fail: (error) => invocation.settle(() => invocation.finish(error == null ? 'handled' : error, undefined)),
      done: (error, result) => invocation.settle(() => invocation.finish(error == null ? null : error, result)),
    };
  }

  startStreaming(handler) {
    this.prepare();
    const stream = new ResponseStream();
    const invocation = this;
    let event;
    try {
      event = JSON.parse(this.body.toString('utf8'));
    } catch (error) {
      this.finish(error, undefined);
      return;
    }
    let result;
    try {
      result = handler(event, stream, this.context);
    } catch (error) {
      this.finish(error, undefined);
      return;
    }
    if (!result || typeof result.then !== 'function') {
      this.finish(new Error('Streaming does not support non-async handlers.'), undefined);
      return;
    }
    result.then(
      (value) => {
        if (value !== undefined) console.warn('Streaming handlers ignore return values.');
        const done = () => invocation.settle(() => invocation.finishStream(stream));
        if (stream.writableFinished) done();
        else if (stream.writableEnded) stream.once('finish', done);
        else invocation.settle(() => invocation.finish(new Error('Response stream is not finished.'), undefined));
      },
      (error) => invocation.settle(() => invocation.finish(error, undefined)),
    );
  }

  finishStream(stream) {
    if (this.finished) return;
    this.finished = true;
    const reply = this.runtime.api.postThenNext(
      `/invocation/${this.requestId}/response`,
      `Content-Type: ${stream.contentType}\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n`,
      stream.body(),
    );
    this.runtime.begin(reply);
  }

  settle(action) {
    if (this.settled) return;
    this.settled = true;
    action();
  }

  callback(error, value) {
    if (this.settled) return; // only the first completion counts
    this.settled = true;
    const outcome = [error === undefined ? null : error, value];
    // An error is answered at once; a result waits for the event loop unless told not to.
    if (outcome[0] === null && this.context && this.context.callbackWaitsForEmptyEventLoop) {
      this.pending = outcome; // answered when the event loop drains (beforeExit)
    } else {
      this.finish(...outcome);
    }
  }

  // The event loop drained: answer a waiting callback, a handler that returned without calling
  // its callback (null), or report a promise that will never settle.
  drained() {
    if (this.finished) return;
    if (this.pending) {
      const [error, value] = this.pending;
      this.finish(error, value);
    } else if (this.asyncHandler && !this.settled) {
      this.settled = true;
      this.finish(RuntimeError('NodeJsExit', NODE_JS_EXIT_MESSAGE), undefined);
    } else if (!this.settled) {
      this.settled = true;
      this.finish(null, null);
    }
  }

  finish(error, value) {
    if (this.finished) return;
    this.finished = true;
    let reply;
    if (error !== null && error !== undefined) {
      logError('Invoke Error', error);
      // AWS's client posts invocation errors without an error-type header (the body says it).
      reply = this.runtime.api.postThenNext(
        `/invocation/${this.requestId}/error`,
        'Content-Type: application/json\r\n',
        errorBody(rapidError(error)),
      );
    } else {
      let payload;
      try {
        payload = JSON.stringify(value === undefined ? null : value);
      } catch (failure) {
        this.finished = false;
        this.finish(new Error('Unable to stringify response body'), undefined);
        return;
      }
      reply = this.runtime.api.postThenNext(
        `/invocation/${this.requestId}/response`,
        'Content-Type: application/json\r\n',
        Buffer.from(payload === undefined ? 'null' : payload, 'utf8'),
      );
    }
    this.runtime.begin(reply);
  }
}

class Runtime {
  constructor(api, handler) {
    this.api = api;
    this.handler = handler;
    this.current = null;
  }

  begin(reply) {
    // Started from a fresh stack: a handler that answers at once cannot grow it invocation after invocation.
    setImmediate(() => {
      this.current = new Invocation(this, reply);
      this.current.start(this.handler);
    });
  }

  // An exception or rejection nobody caught: AWS reports it as the invocation's error and the
  // runtime exits, so the next invocation starts a fresh one.
  crash(label, error, exitCode) {
    const invocation = this.current;
    logError(label, error);
    if (invocation && !invocation.finished) {
      invocation.finished = true;
      try {
        this.api.postOnly(`/invocation/${invocation.requestId}/error`, 'Content-Type: application/json\r\n', errorBody(rapidError(error)));
      } catch (_) {
        // the engine is gone: nothing to tell
      }
    }
    process.exit(exitCode);
  }
}

function unhandledRejection(reason, promise) {
  const error = RuntimeError('UnhandledPromiseRejection', reason === undefined ? '' : String(reason));
  error.reason = reason;
  error.promise = promise;
  return error;
}

async function main() {
  const fd = parseInt(process.env._LAMBENCH_RUNTIME_API_FD || '', 10);
  delete process.env._LAMBENCH_RUNTIME_API_FD;
  if (!Number.isInteger(fd)) {
    writeOut('lambench: this runtime runs under lambench only (no _LAMBENCH_RUNTIME_API_FD)\n');
    process.exit(1);
  }
  const api = new RuntimeApi(fd, process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
  patchConsole();
  installAwsLambdaGlobal();
  let runtime = null;
  const initCrash = (label, error, exitCode) => {
    const rapid = rapidError(error);
    logError(label, error);
    try {
      api.postOnly('/init/error', `Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: ${rapid.errorType}\r\n`, errorBody(rapid));
    } catch (_) {
      // the engine is gone
    }
    process.exit(exitCode);
  };
  // An uncaught exception exits 129, an unhandled rejection 128; either is the current
  // invocation's error (or the init's), and the next invocation starts a fresh runtime.
  process.on('uncaughtException', (error) => (runtime ? runtime.crash('Uncaught Exception', error, 129) : initCrash('Uncaught Exception', error, 129)));
  process.on('unhandledRejection', (reason, promise) => {
    const error = unhandledRejection(reason, promise);
    return runtime ? runtime.crash('Unhandled Promise Rejection', error, 128) : initCrash('Unhandled Promise Rejection', error, 128);
  });
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER || '');
  } catch (error) {
    // AWS's loader fails through its top-level await, which Node reports as an uncaught exception.
    initCrash('Uncaught Exception', error, 129);
    return;
  }
  runtime = new Runtime(api, handler);
  process.on('beforeExit', () => {
    if (runtime.current) runtime.current.drained();
  });
  runtime.begin(api.next());
}

main();

// Small promise-based clients for eventinvoke's Invoker and Router, loaded straight from protos/.
//
//   const { InvokerClient, RouterClient } = require("./index.js");
//   const client = new InvokerClient("127.0.0.1:50051");
//   const response = await client.invoke({ function_name: "f", invocation_type: "INVOCATION_TYPE_EVENT" });
//   const router = new RouterClient("127.0.0.1:50051"); // the failed-delivery store
//   const { failed_deliveries } = await router.listFailedDeliveries({ function_name: "f" });
//   await router.redriveFailedDeliveries({ delivery_id: failed_deliveries[0].delivery_id });
//   const what = await client.getInvocation({ request_id: response.request_id }); // status, attempts
//
// Every RPC of eventinvoke.v1.Invoker (eventinvoke.v1.Router) is a method (lowerCamelCase) that
// takes and returns plain objects with the proto's field names; bytes are Buffers, enums their
// names, timestamps {seconds, nanos}. A failed call
// rejects with a ServiceError carrying AWS's exception name (`code`, e.g.
// "ResourceNotFoundException"), message and HTTP status, read from the google.rpc.ErrorInfo the
// servers attach to every error.
//
// Calls are signed with AWS credentials when there are some (SECURITY.md: SigV4 over
// `POST https://eventinvoke/<package.Service>/<Method>`, empty body, service `lambda`): given as
// `new InvokerClient(address, { credentials: { accessKeyId, secretAccessKey, sessionToken } })`
// (or an AWS SDK credential provider; RouterClient takes the same options), else found as the AWS SDK for JavaScript finds them:
// the profile named by the `profile` option or AWS_PROFILE, else AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the `default` profile, of ~/.aws/credentials
// and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). Not the instance-metadata or
// container providers: a client on a laptop would wait on them. No credentials anywhere: calls
// go unsigned (`credentials: false` forces that), as a server with none configured accepts on
// loopback.
//
// TLS (SECURITY.md, "Encryption in transit"), as the Python client's `Tls(ca, cert, key)`: an
// `https://host:port` address, or the `tls` option, `{ ca, cert, key }` (PEM, Buffers or
// strings; each may be left out). `ca` is the CAs that may sign the server's certificate; without
// it, the file named by AWS_CA_BUNDLE, else Node's own CAs. `cert` (the certificate chain) and
// `key` are the client's, for a server that asks for mutual TLS (`tls_client_ca`). Calls over TLS
// are signed as over plain text.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");
const { SignatureV4 } = require("@smithy/signature-v4");
const { Hash } = require("@smithy/hash-node");
const { fromEnv } = require("@aws-sdk/credential-provider-env");
const { fromIni } = require("@aws-sdk/credential-provider-ini");

const PROTOS = path.resolve(__dirname, "..", "..", "protos");
// The services a client is made for, and the proto file of each.
const SERVICE_PROTOS = {
  Invoker: "eventinvoke/v1/invoker_service.proto",
  Router: "eventinvoke/v1/router_service.proto",
};

// Deployment packages and 6 MB payloads exceed gRPC's 4 MB default.
const CHANNEL_OPTIONS = {
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
};

function loadService(name) {
  const definition = protoLoader.loadSync(SERVICE_PROTOS[name], {
    includeDirs: [PROTOS], // google/protobuf/* well-known types come with proto-loader
    keepCase: true, // field names exactly as in the .proto files
    enums: String,
    longs: String,
    defaults: false, // absent optional fields stay absent, as in the Python client
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).eventinvoke.v1[name];
}

// google.rpc.Status and google.rpc.ErrorInfo, the two messages needed to read an error's details.
const rpcTypes = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: "int32", id: 1 },
                message: { type: "string", id: 2 },
                details: { rule: "repeated", type: "Any", id: 3 },
              },
            },
            Any: { fields: { type_url: { type: "string", id: 1 }, value: { type: "bytes", id: 2 } } },
            ErrorInfo: {
              fields: {
                reason: { type: "string", id: 1 },
                domain: { type: "string", id: 2 },
                metadata: { keyType: "string", type: "string", id: 3 },
              },
            },
          },
        },
      },
    },
  },
});
const Status = rpcTypes.lookupType("google.rpc.Status");
const ErrorInfo = rpcTypes.lookupType("google.rpc.ErrorInfo");

// The request a call's signature covers. The host is fixed, so that proxies and meshes that
// rewrite :authority do not break it; the region is any (the servers take the signed one).
const SIGNED_HOST = "eventinvoke";
const SIGNING_SERVICE = "lambda";
const SIGNING_REGION = "us-east-1";
// Credentials that expire (a role's, SSO's) are found again this long before they do.
const REFRESH_BEFORE_MS = 5 * 60 * 1000;

// The caller's credentials as the AWS SDK's default chain finds them, without its network
// providers; null when there are none. A profile named (`profile`, else AWS_PROFILE) comes before
// the environment's keys, as in the SDK, and one that cannot be read is an error; the `default`
// profile missing just means unsigned calls.
async function findCredentials(profile) {
  const named = profile || process.env.AWS_PROFILE;
  if (!named) {
    try {
      return await fromEnv()();
    } catch {
      // none in the environment: the shared files
    }
  }
  try {
    return await fromIni({ profile: named, ignoreCache: true })();
  } catch (error) {
    if (named) throw error;
    return null;
  }
}

// Signs calls: the metadata for a method, one signature per method and second (a signature
// names its second, so the calls within it share one).
class Signer {
  constructor(credentials, profile) {
    if (typeof credentials === "function") this.provider = credentials; // an AWS SDK provider
    else if (credentials) this.provider = async () => credentials;
    else this.provider = () => findCredentials(profile);
    this.found = null;
    this.finding = null; // the search under way, shared by the calls that wait for it
    this.cache = new Map(); // method -> {second, signer, metadata}
  }

  // {credentials, signer}, found once (again when they are about to expire); null: unsigned.
  async current() {
    const found = this.found;
    const expiration = found && found.credentials && found.credentials.expiration;
    if (found && !(expiration && new Date(expiration) - Date.now() < REFRESH_BEFORE_MS)) {
      return found;
    }
    if (!this.finding) {
      this.finding = Promise.resolve()
        .then(() => this.provider())
        .then((credentials) => {
          if (credentials && !(credentials.accessKeyId && credentials.secretAccessKey)) {
            throw new TypeError("credentials need an accessKeyId and a secretAccessKey");
          }
          const signer = credentials
            ? new SignatureV4({
                credentials,
                region: SIGNING_REGION,
                service: SIGNING_SERVICE,
                sha256: Hash.bind(null, "sha256"),
                applyChecksum: false, // no x-amz-content-sha256: the servers sign without it
              })
            : null;
          this.found = { credentials: credentials || null, signer };
          this.cache.clear();
          return this.found;
        })
        .finally(() => {
          this.finding = null;
        });
    }
    return this.finding;
  }

  // [[key, value], ...] for the call of `method` ("/eventinvoke.v1.Invoker/Invoke"); [] unsigned.
  async metadata(method) {
    const { signer } = await this.current();
    if (!signer) return [];
    const second = Math.floor(Date.now() / 1000);
    const cached = this.cache.get(method);
    if (cached && cached.second === second && cached.signer === signer) return cached.metadata;
    const signed = await signer.sign(
      {
        method: "POST",
        protocol: "https:",
        hostname: SIGNED_HOST,
        path: method,
        headers: { host: SIGNED_HOST },
        query: {},
        body: "",
      },
      { signingDate: new Date(second * 1000) },
    );
    const metadata = ["authorization", "x-amz-date", "x-amz-security-token"]
      .filter((name) => signed.headers[name])
      .map((name) => [name, signed.headers[name]]);
    this.cache.set(method, { second, signer, metadata });
    return metadata;
  }

  // A grpc-js interceptor that adds the signature to every call's metadata. When credentials
  // cannot be found (a named profile that is not there), the call ends UNAUTHENTICATED, unsent.
  interceptor() {
    return (options, nextCall) => {
      const call = nextCall(options);
      return new grpc.InterceptingCall(call, {
        start: (metadata, listener, next) => {
          this.metadata(options.method_definition.path).then(
            (extra) => {
              for (const [key, value] of extra) metadata.set(key, value);
              next(metadata, listener);
            },
            (error) => {
              // Ended before it starts: nothing reaches the server.
              call.cancelWithStatus(
                grpc.status.UNAUTHENTICATED,
                `no credentials to sign with: ${error.message}`,
              );
              next(metadata, listener);
            },
          );
        },
      });
    };
  }
}

class ServiceError extends Error {
  constructor(code, message, httpStatus, metadata, grpcCode) {
    super(message);
    this.name = code;
    this.code = code; // AWS's exception name
    this.httpStatus = httpStatus;
    this.metadata = metadata;
    this.grpcCode = grpcCode;
  }
}

function toServiceError(error) {
  const raw = error.metadata && error.metadata.get("grpc-status-details-bin")[0];
  if (raw) {
    const status = Status.decode(raw);
    for (const detail of status.details) {
      if (detail.type_url.endsWith("/google.rpc.ErrorInfo")) {
        const info = ErrorInfo.decode(detail.value);
        const metadata = { ...info.metadata };
        const httpStatus = Number(metadata.httpStatus || 500);
        return new ServiceError(info.reason, status.message, httpStatus, metadata, error.code);
      }
    }
  }
  // No ErrorInfo: not an eventinvoke error (the connection failed, for one).
  const name = Object.keys(grpc.status).find((key) => grpc.status[key] === error.code);
  return new ServiceError(name || "UNKNOWN", error.details || error.message, 500, {}, error.code);
}

// The gRPC target of an address, which may be written AWS's way: `http://host:port/`, or
// `https://host:port/` for TLS.
function targetOf(address) {
  return address.replace(/^https?:\/\//, "").replace(/\/+$/, "");
}

function pem(value) {
  return value == null ? null : Buffer.from(value);
}

// The channel's credentials: TLS when `tls` is given or the address says https://, else none.
function channelCredentials(address, tls) {
  if (!tls && !address.startsWith("https://")) return grpc.credentials.createInsecure();
  const { ca, cert, key } = tls || {};
  const bundle = process.env.AWS_CA_BUNDLE;
  const roots = ca != null ? pem(ca) : bundle ? fs.readFileSync(bundle) : null;
  return grpc.credentials.createSsl(roots, pem(key), pem(cert));
}

// A client of one service: a method per RPC.
class ServiceClient {
  // credentials: {accessKeyId, secretAccessKey, sessionToken}, an AWS SDK credential provider,
  // false (never sign) or absent (the environment's, else the profile's: see the top of this file).
  // tls: {ca, cert, key}, PEM (see the top of this file); absent: TLS only for an https:// address.
  constructor(service, address = "127.0.0.1:50051", { deadlineSeconds, credentials, profile, tls } = {}) {
    const Service = loadService(service);
    const signer = credentials === false ? null : new Signer(credentials, profile);
    // The signature goes in each call's metadata (an interceptor), over TLS or not.
    this.stub = new Service(targetOf(address), channelCredentials(address, tls), {
      ...CHANNEL_OPTIONS,
      interceptors: signer ? [signer.interceptor()] : [],
    });
    this.deadlineSeconds = deadlineSeconds;
    for (const [rpc, method] of Object.entries(Service.service)) {
      const name = method.originalName || rpc.charAt(0).toLowerCase() + rpc.slice(1);
      this[name] = (request = {}) => this.call(rpc, request);
    }
  }

  call(rpc, request) {
    const options = {};
    if (this.deadlineSeconds) options.deadline = Date.now() + this.deadlineSeconds * 1000;
    return new Promise((resolve, reject) => {
      this.stub[rpc](request, options, (error, response) =>
        error ? reject(toServiceError(error)) : resolve(response),
      );
    });
  }

  close() {
    this.stub.close();
  }
}

// Functions, their configuration, and invocations.
class InvokerClient extends ServiceClient {
  constructor(address, options) {
    super("Invoker", address, options);
  }
}

// The failed-delivery store: list (with filters), get, redrive and purge failed deliveries.
class RouterClient extends ServiceClient {
  constructor(address, options) {
    super("Router", address, options);
  }
}

module.exports = { InvokerClient, RouterClient, ServiceError, PROTOS };

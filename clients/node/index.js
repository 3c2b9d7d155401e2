// A small promise-based client for eventinvoke's Invoker, loaded straight from protos/.
//
//   const { InvokerClient } = require("./index.js");
//   const client = new InvokerClient("127.0.0.1:50051");
//   const response = await client.invoke({ function_name: "f", invocation_type: "INVOCATION_TYPE_EVENT" });
//
// Every RPC of eventinvoke.v1.Invoker is a method (lowerCamelCase) that takes and returns plain
// objects with the proto's field names; bytes are Buffers, enums their names. A failed call
// rejects with a ServiceError carrying AWS's exception name (`code`, e.g.
// "ResourceNotFoundException"), message and HTTP status, read from the google.rpc.ErrorInfo the
// servers attach to every error.
"use strict";

const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const PROTOS = path.resolve(__dirname, "..", "..", "protos");
const INVOKER_PROTO = "eventinvoke/v1/invoker_service.proto";

// Deployment packages and 6 MB payloads exceed gRPC's 4 MB default.
const CHANNEL_OPTIONS = {
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
};

function loadInvoker() {
  const definition = protoLoader.loadSync(INVOKER_PROTO, {
    includeDirs: [PROTOS], // google/protobuf/* well-known types come with proto-loader
    keepCase: true, // field names exactly as in the .proto files
    enums: String,
    longs: String,
    defaults: false, // absent optional fields stay absent, as in the Python client
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).eventinvoke.v1.Invoker;
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

class InvokerClient {
  constructor(address = "127.0.0.1:50051", { deadlineSeconds } = {}) {
    const Invoker = loadInvoker();
    this.stub = new Invoker(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.deadlineSeconds = deadlineSeconds;
    for (const [rpc, method] of Object.entries(Invoker.service)) {
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

module.exports = { InvokerClient, ServiceError, PROTOS };

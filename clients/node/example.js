// Create a function, give it asynchronous-invocation settings, invoke it with InvocationType=Event.
//
//   node example.js [ADDRESS] [--function-name NAME] [--on-success DESTINATION_ARN]
//
// ADDRESS is the Invoker's gRPC address (default 127.0.0.1:50051, what `eventinvoke up` serves);
// `https://host:port` for a server with TLS, whose CA is then the file AWS_CA_BUNDLE names (else
// one of Node's own).
// Prints one JSON line per step; the last is {"StatusCode": 202, "RequestId": "..."}.
//
// Run it again and again: when the function exists already (CreateFunction answers
// ResourceConflictException), its code is replaced instead (UpdateFunctionCode), as a deploy
// script would do, rather than deleting it with its versions and settings.
"use strict";

const AdmZip = require("adm-zip");
const { InvokerClient } = require("./index.js");

// The function: a Python handler (the python3.x runtime), zipped in memory.
const HANDLER = `def handler(event, context):
    return {"hello": event, "request_id": context.aws_request_id}
`;

function parseArgs(argv) {
  const args = { address: "127.0.0.1:50051", functionName: "node-example", onSuccess: "" };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--function-name") args.functionName = argv[++i];
    else if (argv[i] === "--on-success") args.onSuccess = argv[++i];
    else args.address = argv[i];
  }
  return args;
}

function zipOf(files) {
  const zip = new AdmZip();
  for (const [name, text] of Object.entries(files)) zip.addFile(name, Buffer.from(text));
  return zip.toBuffer();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const client = new InvokerClient(args.address);
  try {
    const code = zipOf({ "index.py": HANDLER });
    const { configuration } = await client
      .createFunction({
        function_name: args.functionName,
        runtime: "python3.11",
        handler: "index.handler",
        zip_file: code,
        timeout: 3,
      })
      .catch((error) => {
        if (error.code !== "ResourceConflictException") throw error;
        return client.updateFunctionCode({ function_name: args.functionName, zip_file: code });
      });
    console.log(JSON.stringify({ FunctionArn: configuration.function_arn }));

    const settings = { function_name: args.functionName, maximum_retry_attempts: 0 };
    if (args.onSuccess) {
      settings.destination_config = { on_success: { destination: args.onSuccess } };
    }
    const { config } = await client.putFunctionEventInvokeConfig(settings);
    console.log(JSON.stringify({ EventInvokeConfig: config.function_arn }));

    const response = await client.invoke({
      function_name: args.functionName,
      invocation_type: "INVOCATION_TYPE_EVENT",
      payload: Buffer.from(JSON.stringify({ from: "node" })),
    });
    console.log(JSON.stringify({ StatusCode: response.status_code, RequestId: response.request_id }));
  } finally {
    client.close();
  }
}

main().catch((error) => {
  console.error(`${error.code || error.name}: ${error.message}`);
  process.exit(1);
});

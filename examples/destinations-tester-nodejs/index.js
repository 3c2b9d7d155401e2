// Lambda Destinations tester (the 2019 announcement's function, for nodejs20.x):
// succeeds when event.Success is true, fails with an error otherwise.
exports.handler = function (event, context, callback) {
  console.log("Event received at: " + new Date().toISOString());
  console.log("Received event:", JSON.stringify(event, null, 2));
  context.callbackWaitsForEmptyEventLoop = false;
  if (event.Success) {
    console.log("Success");
    callback(null);
  } else {
    console.log("Failure");
    callback(new Error("Failure from event, Success = false, I am failing!"), "Destination Function Error Thrown");
  }
};

// A handler in a subdirectory: _HANDLER "lib/mod.handler".
exports.handler = async () => "from lib";

pytest_plugins = ["eventinvoke.router.testing"]

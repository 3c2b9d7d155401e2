pytest_plugins = ["eventinvoke.testing"]

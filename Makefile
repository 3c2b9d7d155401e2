# eventinvoke — the two commands a user needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(wildcard protos/eventinvoke/v1/*.proto)
GENERATED := protos/eventinvoke/v1/.generated
NODE_MODULES := clients/node/node_modules/.installed

.PHONY: install run cluster test bench protos lint fmt readme operations cfn-schemas clean

install: $(STAMP) $(GENERATED) $(NODE_MODULES)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml hatch_build.py | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e plugins/eventinvoke-webhook
	touch $@

# The Node.js client's packages (@grpc/grpc-js, @grpc/proto-loader, and the AWS SDK's signer and
# credential providers); its test runs in `make test`.
$(NODE_MODULES): clients/node/package.json clients/node/package-lock.json
	npm install --prefix clients/node --no-audit --no-fund
	touch $@

protos: $(GENERATED)

# The protobuf code, then the Python clients' methods (from the table of operations and the
# model): generated, never committed.
OPERATIONS_SOURCES := $(wildcard clients/eventinvoke/api/*.py clients/eventinvoke/api/*.json) \
	clients/eventinvoke/client/type_defs.py
$(GENERATED): $(PROTOS) $(OPERATIONS_SOURCES) $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=protos --pyi_out=protos \
		--grpc_python_out=protos $(PROTOS)
	$(BIN)/python -m eventinvoke.api.generate
	touch $@

run: install
	$(BIN)/eventinvoke up $(ARGS)

# Every service as its own processes on the local PostgreSQL (cluster mode; see the README).
cluster: install
	$(BIN)/eventinvoke cluster $(ARGS)

# The local PostgreSQL and Redis the tests use are started first if they are installed but down.
test: install
	@.ci/services
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/eventinvoke bench $(ARGS)

lint: install
	$(BIN)/ruff check services plugins clients tests
	$(BIN)/ruff format --check services plugins clients tests
	$(BIN)/mypy services/eventinvoke plugins/eventinvoke clients/eventinvoke

fmt: install
	$(BIN)/ruff format services plugins clients tests

# The README's table of settings and docs/deploy.md's table of metrics, from their declarations
# in server/config.py and server/metrics.py (tests check both).
readme: install
	$(BIN)/python -m eventinvoke.server.config README.md
	$(BIN)/python -m eventinvoke.server.metrics docs/deploy.md

# After a change to the table of operations: the Python clients' methods, and the copy of AWS
# Lambda's model for the operations the table lists (from the installed botocore).
operations: install
	$(BIN)/python -m eventinvoke.api.vendor
	$(BIN)/python -m eventinvoke.api.generate

# deploy's CloudFormation / SAM resource schemas, copied again from the installed cfn-lint.
cfn-schemas: install
	$(BIN)/python -m eventinvoke.deploy.schemas

clean:
	rm -rf $(VENV) protos/eventinvoke/v1/*_pb2*.py* $(GENERATED) clients/node/node_modules \
		clients/eventinvoke/client/_methods_*.py

"""Checking a job file's data against the schema, without pydantic's model classes.

The schema is the one the pydantic models make, written into `records_schema` with
typed dicts that become the records in place of the models (see `generate`).
pydantic-core compiles it here, once per process and only when a file is checked, and
gives the same values and the same `ValidationError`s as `JobDefinition.model_validate`
would, without the cost of building the models (docs/performance.md).
"""

from __future__ import annotations

from functools import cache
from typing import cast

import pydantic_core
from pydantic_core import SchemaValidator, core_schema

from agentsup.job import records_schema
from agentsup.job.records import JobDefinition


@cache
def _validator() -> SchemaValidator:
    schema = records_schema.SCHEMA
    if pydantic_core.__version__ != records_schema.PYDANTIC_CORE_VERSION:
        # The schema was written for another pydantic-core, which may read it
        # otherwise or not at all: the one made for this pydantic-core, made from the
        # models as the generator makes it, and kept between runs (`schema_cache`).
        from agentsup.job.schema_cache import schema_for_installed_core

        schema = schema_for_installed_core()
    return SchemaValidator(cast(core_schema.CoreSchema, schema))


def validate_job(data: object) -> JobDefinition:
    """The job record for `data` (parsed YAML), or `pydantic_core.ValidationError`."""
    job = _validator().validate_python(data)
    assert isinstance(job, JobDefinition)
    return job

"""The job file's validation schema: pydantic's, made of typed dicts and records.

Do not edit: run `python -m agentsup.job.generate` (see `generate` for why).
"""

# ruff: noqa: E501

from __future__ import annotations

from typing import Any

from agentsup.job.kinds import ProbeType, Strategy, Target, TopologyType
from agentsup.job.record_parts import AgentConfig, mapping_of, record_of
from agentsup.job.records import (
    Agent,
    AgentDeployment,
    BackoffSettings,
    Connection,
    HealthCheck,
    JobDefinition,
    JobDeployment,
    JobInfo,
    LevelGroup,
    LogFiles,
    NetworkSettings,
    OutputLevels,
    Placement,
    ProbeSettings,
    Resources,
    RestartSettings,
    SshSettings,
    SwarmSettings,
    Topology,
)
from agentsup.job.values import (
    Secret,
    absolute_path,
    agent_id,
    as_list,
    byte_size,
    command_line,
    empty_dict,
    empty_list,
    env_name,
    env_value,
    job_name,
    kept_files,
    level_kind,
    memory_size,
    memory_text,
    non_empty,
    port_number,
    restart_policy,
    signal_name,
    topology_type,
    version_text,
    whole_number,
)

PYDANTIC_CORE_VERSION = '2.46.4'
"""The pydantic-core this schema was written for (`validation`)."""

SCHEMA: dict[str, Any] = {
    'type': 'definitions',
    'schema': {
        'type': 'function-before',
        'function': {'type': 'no-info', 'function': mapping_of('JobDefinition')},
        'schema': {
            'type': 'function-after',
            'function': {'type': 'no-info', 'function': record_of(JobDefinition)},
            'schema': {
                'type': 'typed-dict',
                'fields': {
                    'job': {
                        'type': 'typed-dict-field',
                        'schema': {
                            'type': 'function-before',
                            'function': {'type': 'no-info', 'function': mapping_of('JobInfo')},
                            'schema': {
                                'type': 'function-after',
                                'function': {'type': 'no-info', 'function': record_of(JobInfo)},
                                'schema': {
                                    'type': 'typed-dict',
                                    'fields': {
                                        'name': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'function-after',
                                                'function': {
                                                    'type': 'no-info',
                                                    'function': job_name,
                                                },
                                                'schema': {'type': 'str', 'min_length': 1},
                                            },
                                            'required': True,
                                        },
                                        'version': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': version_text,
                                                        },
                                                        'schema': {'type': 'str'},
                                                    },
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'description': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {'type': 'str'},
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'tags': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'list',
                                                    'items_schema': {'type': 'str'},
                                                },
                                                'default_factory': empty_list,
                                                'default_factory_takes_data': False,
                                            },
                                            'required': False,
                                        },
                                    },
                                    'extra_behavior': 'forbid',
                                    'config': {
                                        'extra_fields_behavior': 'forbid',
                                        'validate_by_alias': True,
                                        'validate_by_name': True,
                                    },
                                },
                            },
                            'ref': 'agentsup.job.job_models.JobInfo',
                        },
                        'required': True,
                    },
                    'agents': {
                        'type': 'typed-dict-field',
                        'schema': {
                            'type': 'list',
                            'items_schema': {
                                'type': 'function-before',
                                'function': {'type': 'no-info', 'function': mapping_of('Agent')},
                                'schema': {
                                    'type': 'function-after',
                                    'function': {'type': 'no-info', 'function': record_of(Agent)},
                                    'schema': {
                                        'type': 'typed-dict',
                                        'fields': {
                                            'id': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'function-after',
                                                    'function': {
                                                        'type': 'no-info',
                                                        'function': agent_id,
                                                    },
                                                    'schema': {'type': 'str', 'min_length': 1},
                                                },
                                                'required': True,
                                            },
                                            'type': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {'type': 'str'},
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                            'module': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {'type': 'str'},
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                            'command': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': non_empty,
                                                            },
                                                            'schema': {
                                                                'type': 'function-before',
                                                                'function': {
                                                                    'type': 'no-info',
                                                                    'function': command_line,
                                                                },
                                                                'schema': {
                                                                    'type': 'list',
                                                                    'items_schema': {'type': 'str'},
                                                                },
                                                            },
                                                        },
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                            'config': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'function-before',
                                                    'function': {
                                                        'type': 'no-info',
                                                        'function': mapping_of('AgentConfig'),
                                                    },
                                                    'schema': {
                                                        'type': 'function-after',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': record_of(AgentConfig),
                                                        },
                                                        'schema': {
                                                            'type': 'typed-dict',
                                                            'fields': {
                                                                'port': {
                                                                    'type': 'typed-dict-field',
                                                                    'schema': {
                                                                        'type': 'function-before',
                                                                        'function': {
                                                                            'type': 'no-info',
                                                                            'function': port_number,
                                                                        },
                                                                        'schema': {
                                                                            'type': 'int',
                                                                            'ge': 1,
                                                                            'le': 65535,
                                                                        },
                                                                    },
                                                                    'required': True,
                                                                },
                                                            },
                                                            'extra_behavior': 'allow',
                                                            'config': {
                                                                'extra_fields_behavior': 'allow',
                                                            },
                                                        },
                                                    },
                                                    'ref': 'agentsup.job.job_models.AgentConfig',
                                                },
                                                'required': True,
                                            },
                                            'resources': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {
                                                            'type': 'function-before',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': mapping_of('Resources'),
                                                            },
                                                            'schema': {
                                                                'type': 'function-after',
                                                                'function': {
                                                                    'type': 'no-info',
                                                                    'function': record_of(Resources),
                                                                },
                                                                'schema': {
                                                                    'type': 'typed-dict',
                                                                    'fields': {
                                                                        'cpu': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'float',
                                                                                        'strict': True,
                                                                                        'gt': 0,
                                                                                        'allow_inf_nan': False,
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'memory': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-after',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': memory_size,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'function-before',
                                                                                            'function': {
                                                                                                'type': 'no-info',
                                                                                                'function': memory_text,
                                                                                            },
                                                                                            'schema': {
                                                                                                'type': 'str',
                                                                                            },
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'gpu': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': whole_number,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'int',
                                                                                            'ge': 0,
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                    },
                                                                    'extra_behavior': 'forbid',
                                                                    'config': {
                                                                        'extra_fields_behavior': 'forbid',
                                                                        'validate_by_alias': True,
                                                                        'validate_by_name': True,
                                                                    },
                                                                },
                                                            },
                                                            'ref': 'agentsup.job.deployment_models.Resources',
                                                        },
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                            'health_check': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {
                                                            'type': 'function-before',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': mapping_of('HealthCheck'),
                                                            },
                                                            'schema': {
                                                                'type': 'function-after',
                                                                'function': {
                                                                    'type': 'no-info',
                                                                    'function': record_of(HealthCheck),
                                                                },
                                                                'schema': {
                                                                    'type': 'typed-dict',
                                                                    'fields': {
                                                                        'enabled': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'bool',
                                                                                        'strict': True,
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'type': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'enum',
                                                                                        'cls': ProbeType,
                                                                                        'members': [
                                                                                            ProbeType.HTTP,
                                                                                            ProbeType.TCP,
                                                                                            ProbeType.EXEC,
                                                                                            ProbeType.LOG,
                                                                                            ProbeType.A2A,
                                                                                        ],
                                                                                        'sub_type': 'str',
                                                                                        'ref': 'agentsup.job.kinds.ProbeType',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'interval': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'float',
                                                                                        'strict': True,
                                                                                        'gt': 0,
                                                                                        'le': 86400.0,
                                                                                        'allow_inf_nan': False,
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'retries': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': whole_number,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'int',
                                                                                            'ge': 1,
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'timeout': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'float',
                                                                                        'strict': True,
                                                                                        'gt': 0,
                                                                                        'le': 86400.0,
                                                                                        'allow_inf_nan': False,
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'path': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-after',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': absolute_path,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'str',
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'scheme': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'literal',
                                                                                        'expected': [
                                                                                            'http',
                                                                                            'https',
                                                                                        ],
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'ca_file': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'command': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-after',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': non_empty,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'function-before',
                                                                                            'function': {
                                                                                                'type': 'no-info',
                                                                                                'function': command_line,
                                                                                            },
                                                                                            'schema': {
                                                                                                'type': 'list',
                                                                                                'items_schema': {
                                                                                                    'type': 'str',
                                                                                                },
                                                                                            },
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'pattern': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'readiness': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'definition-ref',
                                                                                        'schema_ref': 'agentsup.job.health_models.ProbeSettings',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'liveness': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'definition-ref',
                                                                                        'schema_ref': 'agentsup.job.health_models.ProbeSettings',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                    },
                                                                    'extra_behavior': 'forbid',
                                                                    'config': {
                                                                        'extra_fields_behavior': 'forbid',
                                                                        'validate_by_alias': True,
                                                                        'validate_by_name': True,
                                                                    },
                                                                },
                                                            },
                                                            'ref': 'agentsup.job.health_models.HealthCheck',
                                                        },
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                            'deployment': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': mapping_of('AgentDeployment'),
                                                        },
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': record_of(AgentDeployment),
                                                            },
                                                            'schema': {
                                                                'type': 'typed-dict',
                                                                'fields': {
                                                                    'target': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'enum',
                                                                                'cls': Target,
                                                                                'members': [
                                                                                    Target.LOCALHOST,
                                                                                    Target.REMOTE,
                                                                                    Target.CONTAINER,
                                                                                    Target.SWARM,
                                                                                    Target.KUBERNETES,
                                                                                ],
                                                                                'sub_type': 'str',
                                                                                'ref': 'agentsup.job.kinds.Target',
                                                                            },
                                                                            'default': Target.LOCALHOST,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'host': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'user': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'port': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': port_number,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'int',
                                                                                        'ge': 1,
                                                                                        'le': 65535,
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'ssh_key': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'password': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-after',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': Secret,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'python': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'workdir': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'image': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'network': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'container_name': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'host_port': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': port_number,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'int',
                                                                                        'ge': 1,
                                                                                        'le': 65535,
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'pull': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'bool',
                                                                                    'strict': True,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'placement': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': mapping_of('Placement'),
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'function-after',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': record_of(Placement),
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'typed-dict',
                                                                                            'fields': {
                                                                                                'constraints': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'list',
                                                                                                            'items_schema': {
                                                                                                                'type': 'str',
                                                                                                            },
                                                                                                        },
                                                                                                        'default_factory': empty_list,
                                                                                                        'default_factory_takes_data': False,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                                'preferences': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'list',
                                                                                                            'items_schema': {
                                                                                                                'type': 'str',
                                                                                                            },
                                                                                                        },
                                                                                                        'default_factory': empty_list,
                                                                                                        'default_factory_takes_data': False,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                            },
                                                                                            'extra_behavior': 'forbid',
                                                                                            'config': {
                                                                                                'extra_fields_behavior': 'forbid',
                                                                                                'validate_by_alias': True,
                                                                                                'validate_by_name': True,
                                                                                            },
                                                                                        },
                                                                                    },
                                                                                    'ref': 'agentsup.job.deployment_models.Placement',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'namespace': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'service_type': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'env_file': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': as_list,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'list',
                                                                                        'items_schema': {
                                                                                            'type': 'str',
                                                                                        },
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'environment': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'dict',
                                                                                'keys_schema': {
                                                                                    'type': 'function-after',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': env_name,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                                'values_schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': env_value,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'nullable',
                                                                                        'schema': {
                                                                                            'type': 'union',
                                                                                            'choices': [
                                                                                                {
                                                                                                    'type': 'str',
                                                                                                },
                                                                                                {
                                                                                                    'type': 'int',
                                                                                                },
                                                                                                {
                                                                                                    'type': 'float',
                                                                                                },
                                                                                                {
                                                                                                    'type': 'bool',
                                                                                                },
                                                                                            ],
                                                                                        },
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default_factory': empty_dict,
                                                                            'default_factory_takes_data': False,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'stop_timeout': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'float',
                                                                                    'strict': True,
                                                                                    'gt': 0,
                                                                                    'le': 86400.0,
                                                                                    'allow_inf_nan': False,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'stop_signal': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': signal_name,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'inherit_environment': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'bool',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'output': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': mapping_of('OutputLevels'),
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'function-after',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': record_of(OutputLevels),
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'typed-dict',
                                                                                            'fields': {
                                                                                                'stdout': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'literal',
                                                                                                                'expected': [
                                                                                                                    'debug',
                                                                                                                    'info',
                                                                                                                    'warning',
                                                                                                                    'error',
                                                                                                                ],
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                                'stderr': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'literal',
                                                                                                                'expected': [
                                                                                                                    'debug',
                                                                                                                    'info',
                                                                                                                    'warning',
                                                                                                                    'error',
                                                                                                                ],
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                            },
                                                                                            'extra_behavior': 'forbid',
                                                                                            'config': {
                                                                                                'extra_fields_behavior': 'forbid',
                                                                                                'validate_by_alias': True,
                                                                                                'validate_by_name': True,
                                                                                            },
                                                                                        },
                                                                                    },
                                                                                    'ref': 'agentsup.job.deployment_models.OutputLevels',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'logs': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': mapping_of('LogFiles'),
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'function-after',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': record_of(LogFiles),
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'typed-dict',
                                                                                            'fields': {
                                                                                                'dir': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'str',
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                                'max_size': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'function-before',
                                                                                                                'function': {
                                                                                                                    'type': 'no-info',
                                                                                                                    'function': byte_size,
                                                                                                                },
                                                                                                                'schema': {
                                                                                                                    'type': 'int',
                                                                                                                },
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                                'keep': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'function-before',
                                                                                                                'function': {
                                                                                                                    'type': 'no-info',
                                                                                                                    'function': kept_files,
                                                                                                                },
                                                                                                                'schema': {
                                                                                                                    'type': 'int',
                                                                                                                    'ge': 0,
                                                                                                                    'le': 1000,
                                                                                                                },
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                                'enabled': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'bool',
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                            },
                                                                                            'extra_behavior': 'forbid',
                                                                                            'config': {
                                                                                                'extra_fields_behavior': 'forbid',
                                                                                                'validate_by_alias': True,
                                                                                                'validate_by_name': True,
                                                                                            },
                                                                                        },
                                                                                    },
                                                                                    'ref': 'agentsup.job.deployment_models.LogFiles',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'timeout': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'float',
                                                                                    'strict': True,
                                                                                    'gt': 0,
                                                                                    'le': 86400.0,
                                                                                    'allow_inf_nan': False,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                },
                                                                'extra_behavior': 'forbid',
                                                                'config': {
                                                                    'extra_fields_behavior': 'forbid',
                                                                    'validate_by_alias': True,
                                                                    'validate_by_name': True,
                                                                },
                                                            },
                                                        },
                                                        'ref': 'agentsup.job.deployment_models.AgentDeployment',
                                                    },
                                                    'default_factory': AgentDeployment,
                                                    'default_factory_takes_data': False,
                                                },
                                                'required': False,
                                            },
                                            'restart': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {
                                                            'type': 'function-before',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': mapping_of('RestartSettings'),
                                                            },
                                                            'schema': {
                                                                'type': 'function-after',
                                                                'function': {
                                                                    'type': 'no-info',
                                                                    'function': record_of(RestartSettings),
                                                                },
                                                                'schema': {
                                                                    'type': 'typed-dict',
                                                                    'fields': {
                                                                        'policy': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': restart_policy,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'literal',
                                                                                            'expected': [
                                                                                                'no',
                                                                                                'on-failure',
                                                                                                'always',
                                                                                            ],
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'max_restarts': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': whole_number,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'int',
                                                                                            'ge': 0,
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'window': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'float',
                                                                                        'strict': True,
                                                                                        'gt': 0,
                                                                                        'le': 86400.0,
                                                                                        'allow_inf_nan': False,
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'backoff': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': mapping_of('BackoffSettings'),
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'function-after',
                                                                                            'function': {
                                                                                                'type': 'no-info',
                                                                                                'function': record_of(BackoffSettings),
                                                                                            },
                                                                                            'schema': {
                                                                                                'type': 'typed-dict',
                                                                                                'fields': {
                                                                                                    'initial': {
                                                                                                        'type': 'typed-dict-field',
                                                                                                        'schema': {
                                                                                                            'type': 'default',
                                                                                                            'schema': {
                                                                                                                'type': 'nullable',
                                                                                                                'schema': {
                                                                                                                    'type': 'float',
                                                                                                                    'strict': True,
                                                                                                                    'gt': 0,
                                                                                                                    'le': 86400.0,
                                                                                                                    'allow_inf_nan': False,
                                                                                                                },
                                                                                                            },
                                                                                                            'default': None,
                                                                                                        },
                                                                                                        'required': False,
                                                                                                    },
                                                                                                    'factor': {
                                                                                                        'type': 'typed-dict-field',
                                                                                                        'schema': {
                                                                                                            'type': 'default',
                                                                                                            'schema': {
                                                                                                                'type': 'nullable',
                                                                                                                'schema': {
                                                                                                                    'type': 'float',
                                                                                                                    'strict': True,
                                                                                                                    'ge': 1.0,
                                                                                                                    'le': 100.0,
                                                                                                                    'allow_inf_nan': False,
                                                                                                                },
                                                                                                            },
                                                                                                            'default': None,
                                                                                                        },
                                                                                                        'required': False,
                                                                                                    },
                                                                                                    'max': {
                                                                                                        'type': 'typed-dict-field',
                                                                                                        'schema': {
                                                                                                            'type': 'default',
                                                                                                            'schema': {
                                                                                                                'type': 'nullable',
                                                                                                                'schema': {
                                                                                                                    'type': 'float',
                                                                                                                    'strict': True,
                                                                                                                    'gt': 0,
                                                                                                                    'le': 86400.0,
                                                                                                                    'allow_inf_nan': False,
                                                                                                                },
                                                                                                            },
                                                                                                            'default': None,
                                                                                                        },
                                                                                                        'required': False,
                                                                                                    },
                                                                                                },
                                                                                                'extra_behavior': 'forbid',
                                                                                                'config': {
                                                                                                    'extra_fields_behavior': 'forbid',
                                                                                                    'validate_by_alias': True,
                                                                                                    'validate_by_name': True,
                                                                                                },
                                                                                            },
                                                                                        },
                                                                                        'ref': 'agentsup.job.deployment_models.BackoffSettings',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'restart_dependents': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'bool',
                                                                                        'strict': True,
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                    },
                                                                    'extra_behavior': 'forbid',
                                                                    'config': {
                                                                        'extra_fields_behavior': 'forbid',
                                                                        'validate_by_alias': True,
                                                                        'validate_by_name': True,
                                                                    },
                                                                },
                                                            },
                                                            'ref': 'agentsup.job.deployment_models.RestartSettings',
                                                        },
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                        },
                                        'extra_behavior': 'forbid',
                                        'config': {
                                            'extra_fields_behavior': 'forbid',
                                            'validate_by_alias': True,
                                            'validate_by_name': True,
                                        },
                                    },
                                },
                                'ref': 'agentsup.job.job_models.Agent',
                            },
                            'min_length': 1,
                        },
                        'required': True,
                    },
                    'topology': {
                        'type': 'typed-dict-field',
                        'schema': {
                            'type': 'function-before',
                            'function': {'type': 'no-info', 'function': mapping_of('Topology')},
                            'schema': {
                                'type': 'function-after',
                                'function': {'type': 'no-info', 'function': record_of(Topology)},
                                'schema': {
                                    'type': 'typed-dict',
                                    'fields': {
                                        'type': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'function-before',
                                                'function': {
                                                    'type': 'no-info',
                                                    'function': topology_type,
                                                },
                                                'schema': {
                                                    'type': 'enum',
                                                    'cls': TopologyType,
                                                    'members': [
                                                        TopologyType.HUB_SPOKE,
                                                        TopologyType.PIPELINE,
                                                        TopologyType.DAG,
                                                        TopologyType.MESH,
                                                        TopologyType.HIERARCHICAL,
                                                        TopologyType.DYNAMIC,
                                                    ],
                                                    'sub_type': 'str',
                                                    'ref': 'agentsup.job.kinds.TopologyType',
                                                },
                                            },
                                            'required': True,
                                        },
                                        'hub': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {'type': 'str'},
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'spokes': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': as_list,
                                                        },
                                                        'schema': {
                                                            'type': 'list',
                                                            'items_schema': {'type': 'str'},
                                                        },
                                                    },
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'stages': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {
                                                        'type': 'list',
                                                        'items_schema': {
                                                            'type': 'function-before',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': as_list,
                                                            },
                                                            'schema': {
                                                                'type': 'list',
                                                                'items_schema': {'type': 'str'},
                                                            },
                                                        },
                                                    },
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'connections': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {
                                                        'type': 'list',
                                                        'items_schema': {
                                                            'type': 'function-before',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': mapping_of('Connection'),
                                                            },
                                                            'schema': {
                                                                'type': 'function-after',
                                                                'function': {
                                                                    'type': 'no-info',
                                                                    'function': record_of(Connection),
                                                                },
                                                                'schema': {
                                                                    'type': 'typed-dict',
                                                                    'fields': {
                                                                        'from_': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'str',
                                                                            },
                                                                            'validation_alias': 'from',
                                                                            'serialization_alias': 'from',
                                                                            'required': True,
                                                                        },
                                                                        'to': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'function-before',
                                                                                'function': {
                                                                                    'type': 'no-info',
                                                                                    'function': as_list,
                                                                                },
                                                                                'schema': {
                                                                                    'type': 'list',
                                                                                    'items_schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                            },
                                                                            'required': True,
                                                                        },
                                                                        'type': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                    },
                                                                    'extra_behavior': 'forbid',
                                                                    'config': {
                                                                        'extra_fields_behavior': 'forbid',
                                                                        'validate_by_alias': True,
                                                                        'validate_by_name': True,
                                                                    },
                                                                },
                                                            },
                                                            'ref': 'agentsup.job.job_models.Connection',
                                                        },
                                                    },
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'agents': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': as_list,
                                                        },
                                                        'schema': {
                                                            'type': 'list',
                                                            'items_schema': {'type': 'str'},
                                                        },
                                                    },
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'root': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {'type': 'str'},
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                        'levels': {
                                            'type': 'typed-dict-field',
                                            'schema': {
                                                'type': 'default',
                                                'schema': {
                                                    'type': 'nullable',
                                                    'schema': {
                                                        'type': 'list',
                                                        'items_schema': {
                                                            'type': 'tagged-union',
                                                            'choices': {
                                                                'ids': {
                                                                    'type': 'function-before',
                                                                    'function': {
                                                                        'type': 'no-info',
                                                                        'function': as_list,
                                                                    },
                                                                    'schema': {
                                                                        'type': 'list',
                                                                        'items_schema': {'type': 'str'},
                                                                    },
                                                                },
                                                                'group': {
                                                                    'type': 'definition-ref',
                                                                    'schema_ref': 'agentsup.job.job_models.LevelGroup',
                                                                },
                                                            },
                                                            'discriminator': level_kind,
                                                        },
                                                    },
                                                },
                                                'default': None,
                                            },
                                            'required': False,
                                        },
                                    },
                                    'extra_behavior': 'forbid',
                                    'config': {
                                        'extra_fields_behavior': 'forbid',
                                        'validate_by_alias': True,
                                        'validate_by_name': True,
                                    },
                                },
                            },
                            'ref': 'agentsup.job.job_models.Topology',
                        },
                        'required': True,
                    },
                    'deployment': {
                        'type': 'typed-dict-field',
                        'schema': {
                            'type': 'default',
                            'schema': {
                                'type': 'function-before',
                                'function': {
                                    'type': 'no-info',
                                    'function': mapping_of('JobDeployment'),
                                },
                                'schema': {
                                    'type': 'function-after',
                                    'function': {
                                        'type': 'no-info',
                                        'function': record_of(JobDeployment),
                                    },
                                    'schema': {
                                        'type': 'typed-dict',
                                        'fields': {
                                            'strategy': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'enum',
                                                        'cls': Strategy,
                                                        'members': [
                                                            Strategy.STAGED,
                                                            Strategy.SEQUENTIAL,
                                                            Strategy.PARALLEL,
                                                            Strategy.TOP_DOWN,
                                                        ],
                                                        'sub_type': 'str',
                                                        'ref': 'agentsup.job.kinds.Strategy',
                                                    },
                                                    'default': Strategy.STAGED,
                                                },
                                                'required': False,
                                            },
                                            'timeout': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'float',
                                                        'strict': True,
                                                        'gt': 0,
                                                        'le': 86400.0,
                                                        'allow_inf_nan': False,
                                                    },
                                                    'default': 60.0,
                                                },
                                                'required': False,
                                            },
                                            'stop_timeout': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'float',
                                                        'strict': True,
                                                        'gt': 0,
                                                        'le': 86400.0,
                                                        'allow_inf_nan': False,
                                                    },
                                                    'default': 10.0,
                                                },
                                                'required': False,
                                            },
                                            'shutdown_timeout': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {
                                                            'type': 'float',
                                                            'strict': True,
                                                            'gt': 0,
                                                            'le': 86400.0,
                                                            'allow_inf_nan': False,
                                                        },
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                            'stop_signal': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': signal_name,
                                                        },
                                                        'schema': {'type': 'str'},
                                                    },
                                                    'default': 'SIGTERM',
                                                },
                                                'required': False,
                                            },
                                            'inherit_environment': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {'type': 'bool'},
                                                    'default': True,
                                                },
                                                'required': False,
                                            },
                                            'output': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': mapping_of('OutputLevels'),
                                                        },
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': record_of(OutputLevels),
                                                            },
                                                            'schema': {
                                                                'type': 'typed-dict',
                                                                'fields': {
                                                                    'stdout': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'literal',
                                                                                    'expected': [
                                                                                        'debug',
                                                                                        'info',
                                                                                        'warning',
                                                                                        'error',
                                                                                    ],
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'stderr': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'literal',
                                                                                    'expected': [
                                                                                        'debug',
                                                                                        'info',
                                                                                        'warning',
                                                                                        'error',
                                                                                    ],
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                },
                                                                'extra_behavior': 'forbid',
                                                                'config': {
                                                                    'extra_fields_behavior': 'forbid',
                                                                    'validate_by_alias': True,
                                                                    'validate_by_name': True,
                                                                },
                                                            },
                                                        },
                                                        'ref': 'agentsup.job.deployment_models.OutputLevels',
                                                    },
                                                    'default_factory': OutputLevels,
                                                    'default_factory_takes_data': False,
                                                },
                                                'required': False,
                                            },
                                            'logs': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'nullable',
                                                        'schema': {
                                                            'type': 'function-before',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': mapping_of('LogFiles'),
                                                            },
                                                            'schema': {
                                                                'type': 'function-after',
                                                                'function': {
                                                                    'type': 'no-info',
                                                                    'function': record_of(LogFiles),
                                                                },
                                                                'schema': {
                                                                    'type': 'typed-dict',
                                                                    'fields': {
                                                                        'dir': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'max_size': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': byte_size,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'int',
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'keep': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': kept_files,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'int',
                                                                                            'ge': 0,
                                                                                            'le': 1000,
                                                                                        },
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                        'enabled': {
                                                                            'type': 'typed-dict-field',
                                                                            'schema': {
                                                                                'type': 'default',
                                                                                'schema': {
                                                                                    'type': 'nullable',
                                                                                    'schema': {
                                                                                        'type': 'bool',
                                                                                    },
                                                                                },
                                                                                'default': None,
                                                                            },
                                                                            'required': False,
                                                                        },
                                                                    },
                                                                    'extra_behavior': 'forbid',
                                                                    'config': {
                                                                        'extra_fields_behavior': 'forbid',
                                                                        'validate_by_alias': True,
                                                                        'validate_by_name': True,
                                                                    },
                                                                },
                                                            },
                                                            'ref': 'agentsup.job.deployment_models.LogFiles',
                                                        },
                                                    },
                                                    'default': None,
                                                },
                                                'required': False,
                                            },
                                            'health_check': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': mapping_of('HealthCheck'),
                                                        },
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': record_of(HealthCheck),
                                                            },
                                                            'schema': {
                                                                'type': 'typed-dict',
                                                                'fields': {
                                                                    'enabled': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'bool',
                                                                                    'strict': True,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'type': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'enum',
                                                                                    'cls': ProbeType,
                                                                                    'members': [
                                                                                        ProbeType.HTTP,
                                                                                        ProbeType.TCP,
                                                                                        ProbeType.EXEC,
                                                                                        ProbeType.LOG,
                                                                                        ProbeType.A2A,
                                                                                    ],
                                                                                    'sub_type': 'str',
                                                                                    'ref': 'agentsup.job.kinds.ProbeType',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'interval': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'float',
                                                                                    'strict': True,
                                                                                    'gt': 0,
                                                                                    'le': 86400.0,
                                                                                    'allow_inf_nan': False,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'retries': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': whole_number,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'int',
                                                                                        'ge': 1,
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'timeout': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'float',
                                                                                    'strict': True,
                                                                                    'gt': 0,
                                                                                    'le': 86400.0,
                                                                                    'allow_inf_nan': False,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'path': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-after',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': absolute_path,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'str',
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'scheme': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'literal',
                                                                                    'expected': [
                                                                                        'http',
                                                                                        'https',
                                                                                    ],
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'ca_file': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'command': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-after',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': non_empty,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'function-before',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': command_line,
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'list',
                                                                                            'items_schema': {
                                                                                                'type': 'str',
                                                                                            },
                                                                                        },
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'pattern': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'readiness': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'definition-ref',
                                                                                    'schema_ref': 'agentsup.job.health_models.ProbeSettings',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'liveness': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'definition-ref',
                                                                                    'schema_ref': 'agentsup.job.health_models.ProbeSettings',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                },
                                                                'extra_behavior': 'forbid',
                                                                'config': {
                                                                    'extra_fields_behavior': 'forbid',
                                                                    'validate_by_alias': True,
                                                                    'validate_by_name': True,
                                                                },
                                                            },
                                                        },
                                                        'ref': 'agentsup.job.health_models.HealthCheck',
                                                    },
                                                    'default_factory': HealthCheck,
                                                    'default_factory_takes_data': False,
                                                },
                                                'required': False,
                                            },
                                            'ssh': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': mapping_of('SshSettings'),
                                                        },
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': record_of(SshSettings),
                                                            },
                                                            'schema': {
                                                                'type': 'typed-dict',
                                                                'fields': {
                                                                    'key_file': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'timeout': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'float',
                                                                                'strict': True,
                                                                                'gt': 0,
                                                                                'le': 86400.0,
                                                                                'allow_inf_nan': False,
                                                                            },
                                                                            'default': 10.0,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'known_hosts': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'str',
                                                                            },
                                                                            'default': '~/.ssh/known_hosts',
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                },
                                                                'extra_behavior': 'forbid',
                                                                'config': {
                                                                    'extra_fields_behavior': 'forbid',
                                                                    'validate_by_alias': True,
                                                                    'validate_by_name': True,
                                                                },
                                                            },
                                                        },
                                                        'ref': 'agentsup.job.deployment_models.SshSettings',
                                                    },
                                                    'default_factory': SshSettings,
                                                    'default_factory_takes_data': False,
                                                },
                                                'required': False,
                                            },
                                            'network': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': mapping_of('NetworkSettings'),
                                                        },
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': record_of(NetworkSettings),
                                                            },
                                                            'schema': {
                                                                'type': 'typed-dict',
                                                                'fields': {
                                                                    'allow_cross_host': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'bool',
                                                                                'strict': True,
                                                                            },
                                                                            'default': True,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'firewall_rules': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'list',
                                                                                'items_schema': {
                                                                                    'type': 'any',
                                                                                },
                                                                            },
                                                                            'default_factory': empty_list,
                                                                            'default_factory_takes_data': False,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'advertise_host': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                },
                                                                'extra_behavior': 'forbid',
                                                                'config': {
                                                                    'extra_fields_behavior': 'forbid',
                                                                    'validate_by_alias': True,
                                                                    'validate_by_name': True,
                                                                },
                                                            },
                                                        },
                                                        'ref': 'agentsup.job.deployment_models.NetworkSettings',
                                                    },
                                                    'default_factory': NetworkSettings,
                                                    'default_factory_takes_data': False,
                                                },
                                                'required': False,
                                            },
                                            'swarm': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': mapping_of('SwarmSettings'),
                                                        },
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': record_of(SwarmSettings),
                                                            },
                                                            'schema': {
                                                                'type': 'typed-dict',
                                                                'fields': {
                                                                    'engine': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'str',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                },
                                                                'extra_behavior': 'forbid',
                                                                'config': {
                                                                    'extra_fields_behavior': 'forbid',
                                                                    'validate_by_alias': True,
                                                                    'validate_by_name': True,
                                                                },
                                                            },
                                                        },
                                                        'ref': 'agentsup.job.deployment_models.SwarmSettings',
                                                    },
                                                    'default_factory': SwarmSettings,
                                                    'default_factory_takes_data': False,
                                                },
                                                'required': False,
                                            },
                                            'pull': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {'type': 'bool', 'strict': True},
                                                    'default': False,
                                                },
                                                'required': False,
                                            },
                                            'restart': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'function-before',
                                                        'function': {
                                                            'type': 'no-info',
                                                            'function': mapping_of('RestartSettings'),
                                                        },
                                                        'schema': {
                                                            'type': 'function-after',
                                                            'function': {
                                                                'type': 'no-info',
                                                                'function': record_of(RestartSettings),
                                                            },
                                                            'schema': {
                                                                'type': 'typed-dict',
                                                                'fields': {
                                                                    'policy': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': restart_policy,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'literal',
                                                                                        'expected': [
                                                                                            'no',
                                                                                            'on-failure',
                                                                                            'always',
                                                                                        ],
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'max_restarts': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': whole_number,
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'int',
                                                                                        'ge': 0,
                                                                                    },
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'window': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'float',
                                                                                    'strict': True,
                                                                                    'gt': 0,
                                                                                    'le': 86400.0,
                                                                                    'allow_inf_nan': False,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'backoff': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'function-before',
                                                                                    'function': {
                                                                                        'type': 'no-info',
                                                                                        'function': mapping_of('BackoffSettings'),
                                                                                    },
                                                                                    'schema': {
                                                                                        'type': 'function-after',
                                                                                        'function': {
                                                                                            'type': 'no-info',
                                                                                            'function': record_of(BackoffSettings),
                                                                                        },
                                                                                        'schema': {
                                                                                            'type': 'typed-dict',
                                                                                            'fields': {
                                                                                                'initial': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'float',
                                                                                                                'strict': True,
                                                                                                                'gt': 0,
                                                                                                                'le': 86400.0,
                                                                                                                'allow_inf_nan': False,
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                                'factor': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'float',
                                                                                                                'strict': True,
                                                                                                                'ge': 1.0,
                                                                                                                'le': 100.0,
                                                                                                                'allow_inf_nan': False,
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                                'max': {
                                                                                                    'type': 'typed-dict-field',
                                                                                                    'schema': {
                                                                                                        'type': 'default',
                                                                                                        'schema': {
                                                                                                            'type': 'nullable',
                                                                                                            'schema': {
                                                                                                                'type': 'float',
                                                                                                                'strict': True,
                                                                                                                'gt': 0,
                                                                                                                'le': 86400.0,
                                                                                                                'allow_inf_nan': False,
                                                                                                            },
                                                                                                        },
                                                                                                        'default': None,
                                                                                                    },
                                                                                                    'required': False,
                                                                                                },
                                                                                            },
                                                                                            'extra_behavior': 'forbid',
                                                                                            'config': {
                                                                                                'extra_fields_behavior': 'forbid',
                                                                                                'validate_by_alias': True,
                                                                                                'validate_by_name': True,
                                                                                            },
                                                                                        },
                                                                                    },
                                                                                    'ref': 'agentsup.job.deployment_models.BackoffSettings',
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                    'restart_dependents': {
                                                                        'type': 'typed-dict-field',
                                                                        'schema': {
                                                                            'type': 'default',
                                                                            'schema': {
                                                                                'type': 'nullable',
                                                                                'schema': {
                                                                                    'type': 'bool',
                                                                                    'strict': True,
                                                                                },
                                                                            },
                                                                            'default': None,
                                                                        },
                                                                        'required': False,
                                                                    },
                                                                },
                                                                'extra_behavior': 'forbid',
                                                                'config': {
                                                                    'extra_fields_behavior': 'forbid',
                                                                    'validate_by_alias': True,
                                                                    'validate_by_name': True,
                                                                },
                                                            },
                                                        },
                                                        'ref': 'agentsup.job.deployment_models.RestartSettings',
                                                    },
                                                    'default_factory': RestartSettings,
                                                    'default_factory_takes_data': False,
                                                },
                                                'required': False,
                                            },
                                            'on_agent_failure': {
                                                'type': 'typed-dict-field',
                                                'schema': {
                                                    'type': 'default',
                                                    'schema': {
                                                        'type': 'literal',
                                                        'expected': ['shutdown', 'continue'],
                                                    },
                                                    'default': 'shutdown',
                                                },
                                                'required': False,
                                            },
                                        },
                                        'extra_behavior': 'forbid',
                                        'config': {
                                            'extra_fields_behavior': 'forbid',
                                            'validate_by_alias': True,
                                            'validate_by_name': True,
                                        },
                                    },
                                },
                                'ref': 'agentsup.job.deployment_models.JobDeployment',
                            },
                            'default_factory': JobDeployment,
                            'default_factory_takes_data': False,
                        },
                        'required': False,
                    },
                    'execution': {
                        'type': 'typed-dict-field',
                        'schema': {
                            'type': 'default',
                            'schema': {
                                'type': 'dict',
                                'keys_schema': {'type': 'str'},
                                'values_schema': {'type': 'any'},
                            },
                            'default_factory': empty_dict,
                            'default_factory_takes_data': False,
                        },
                        'required': False,
                    },
                    'env_file': {
                        'type': 'typed-dict-field',
                        'schema': {
                            'type': 'default',
                            'schema': {
                                'type': 'nullable',
                                'schema': {
                                    'type': 'function-before',
                                    'function': {'type': 'no-info', 'function': as_list},
                                    'schema': {'type': 'list', 'items_schema': {'type': 'str'}},
                                },
                            },
                            'default': None,
                        },
                        'required': False,
                    },
                    'environment': {
                        'type': 'typed-dict-field',
                        'schema': {
                            'type': 'default',
                            'schema': {
                                'type': 'dict',
                                'keys_schema': {
                                    'type': 'function-after',
                                    'function': {'type': 'no-info', 'function': env_name},
                                    'schema': {'type': 'str'},
                                },
                                'values_schema': {
                                    'type': 'function-before',
                                    'function': {'type': 'no-info', 'function': env_value},
                                    'schema': {
                                        'type': 'nullable',
                                        'schema': {
                                            'type': 'union',
                                            'choices': [
                                                {'type': 'str'},
                                                {'type': 'int'},
                                                {'type': 'float'},
                                                {'type': 'bool'},
                                            ],
                                        },
                                    },
                                },
                            },
                            'default_factory': empty_dict,
                            'default_factory_takes_data': False,
                        },
                        'required': False,
                    },
                },
                'extra_behavior': 'forbid',
                'config': {
                    'extra_fields_behavior': 'forbid',
                    'validate_by_alias': True,
                    'validate_by_name': True,
                },
            },
        },
        'ref': 'agentsup.job.job_models.JobDefinition',
    },
    'definitions': [
        {
            'type': 'function-before',
            'function': {'type': 'no-info', 'function': mapping_of('ProbeSettings')},
            'schema': {
                'type': 'function-after',
                'function': {'type': 'no-info', 'function': record_of(ProbeSettings)},
                'schema': {
                    'type': 'typed-dict',
                    'fields': {
                        'enabled': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {'type': 'bool', 'strict': True},
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'type': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {
                                        'type': 'enum',
                                        'cls': ProbeType,
                                        'members': [
                                            ProbeType.HTTP,
                                            ProbeType.TCP,
                                            ProbeType.EXEC,
                                            ProbeType.LOG,
                                            ProbeType.A2A,
                                        ],
                                        'sub_type': 'str',
                                        'ref': 'agentsup.job.kinds.ProbeType',
                                    },
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'interval': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {
                                        'type': 'float',
                                        'strict': True,
                                        'gt': 0,
                                        'le': 86400.0,
                                        'allow_inf_nan': False,
                                    },
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'retries': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {
                                        'type': 'function-before',
                                        'function': {'type': 'no-info', 'function': whole_number},
                                        'schema': {'type': 'int', 'ge': 1},
                                    },
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'timeout': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {
                                        'type': 'float',
                                        'strict': True,
                                        'gt': 0,
                                        'le': 86400.0,
                                        'allow_inf_nan': False,
                                    },
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'path': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {
                                        'type': 'function-after',
                                        'function': {'type': 'no-info', 'function': absolute_path},
                                        'schema': {'type': 'str'},
                                    },
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'scheme': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {'type': 'literal', 'expected': ['http', 'https']},
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'ca_file': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {'type': 'nullable', 'schema': {'type': 'str'}},
                                'default': None,
                            },
                            'required': False,
                        },
                        'command': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {
                                    'type': 'nullable',
                                    'schema': {
                                        'type': 'function-after',
                                        'function': {'type': 'no-info', 'function': non_empty},
                                        'schema': {
                                            'type': 'function-before',
                                            'function': {
                                                'type': 'no-info',
                                                'function': command_line,
                                            },
                                            'schema': {
                                                'type': 'list',
                                                'items_schema': {'type': 'str'},
                                            },
                                        },
                                    },
                                },
                                'default': None,
                            },
                            'required': False,
                        },
                        'pattern': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'default',
                                'schema': {'type': 'nullable', 'schema': {'type': 'str'}},
                                'default': None,
                            },
                            'required': False,
                        },
                    },
                    'extra_behavior': 'forbid',
                    'config': {
                        'extra_fields_behavior': 'forbid',
                        'validate_by_alias': True,
                        'validate_by_name': True,
                    },
                },
            },
            'ref': 'agentsup.job.health_models.ProbeSettings',
        },
        {
            'type': 'function-before',
            'function': {'type': 'no-info', 'function': mapping_of('LevelGroup')},
            'schema': {
                'type': 'function-after',
                'function': {'type': 'no-info', 'function': record_of(LevelGroup)},
                'schema': {
                    'type': 'typed-dict',
                    'fields': {
                        'parent': {
                            'type': 'typed-dict-field',
                            'schema': {'type': 'str'},
                            'required': True,
                        },
                        'children': {
                            'type': 'typed-dict-field',
                            'schema': {
                                'type': 'function-before',
                                'function': {'type': 'no-info', 'function': as_list},
                                'schema': {'type': 'list', 'items_schema': {'type': 'str'}},
                            },
                            'required': True,
                        },
                    },
                    'extra_behavior': 'forbid',
                    'config': {
                        'extra_fields_behavior': 'forbid',
                        'validate_by_alias': True,
                        'validate_by_name': True,
                    },
                },
            },
            'ref': 'agentsup.job.job_models.LevelGroup',
        },
    ],
}

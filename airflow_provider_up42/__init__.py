"""The example DAGs of ``airflow-provider-up42``, where Airflow looks for a provider's examples.

With ``[core] load_examples`` on (its default), Airflow 3.3 imports every provider under a module
name derived from its distribution name (``airflow-provider-up42`` -> ``airflow_provider_up42``) and
adds that module's ``example_dags`` folder as a DAG bundle; without this module every Airflow CLI
call logged an ERROR with a traceback. ``example_dags`` here is the repository's ``example_dags/``
(a link: the demo, docker compose and the tests use the same files), shipped in the wheel. The
provider's code is ``up42_provider``; nothing is imported here, this runs in every CLI call.
"""

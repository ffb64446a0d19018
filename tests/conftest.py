"""Shared fixtures are defined per topic in tests/fixtures/ and registered here."""

pytest_plugins = [
    "tests.fixtures.cluster",  # the local control plane (kubeconfig, k8s_client, fresh_namespace, ...)
    "tests.fixtures.standin",  # the operator stand-in against that cluster
    "tests.fixtures.gateway",  # the real Flink SQL Gateway + JobManager + TaskManager on 127.0.0.1
    "tests.fixtures.render",  # the whole studio rendered offline (site.yml with studio_render_only)
]

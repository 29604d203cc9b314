"""The Kubernetes manifests run the same system as ``make run`` and compose: every process with
its command, the one image, the shared configuration and secret, probes on the web pods, a
metrics port on every worker pod, consumers with static group membership, leased workers with a
standby, and only variables the code reads."""

from __future__ import annotations

import yaml

from tests.unit.deploy.deployment import (
    CONTRACT_PORTS,
    IMAGE,
    K8S,
    TOPIC_BOOTSTRAP,
    bind_variable,
    containers,
    env_value,
    is_web,
    known_variables,
    kustomization,
    manifests,
    objects,
    procfile,
    web_port,
    workloads,
)

NAMESPACE = "supervision"
# The ConfigMap carries at least what the README's configuration and the process model need.
REQUIRED_CONFIG = {"KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "WEBHOOK_RETRY_SCHEDULE",
                   "REOPEN_DEADLINE_DAYS", "WEBHOOK_ALLOWED_HOSTS", "LOG_LEVEL",
                   "PROMETHEUS_MULTIPROC_DIR"}
SECRET_VARIABLES = {"SUPERVISION_JWT_SECRET", "WEB_SESSION_SECRET", "OIDC_CLIENT_SECRET"}
# Leased workers: one instance works, the second stands by (shared/outbox.py, the scheduler);
# the dispatcher's claims are leased per delivery.
TWO_REPLICAS = ("-relay", "-scheduler", "-dispatcher")


def config() -> dict:
    [configmap] = objects("ConfigMap").values()
    return configmap


def secret_template() -> dict:
    return yaml.safe_load((K8S / "secret.example.yaml").read_text())


def pods() -> dict[str, dict]:
    """Pod specs of every workload and job, by owner name."""
    owners = {**workloads(), **objects("Job")}
    return {name: o["spec"]["template"]["spec"] for name, o in owners.items()}


def test_kustomization_applies_every_manifest_but_the_secret_template():
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}
    assert kustomization()["namespace"] == NAMESPACE


def test_everything_lives_in_the_supervision_namespace():
    assert NAMESPACE in objects("Namespace")
    for obj in manifests():
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


def test_every_process_of_make_run_is_a_workload_with_the_same_command():
    commands = {}
    for name, workload in workloads().items():
        [container] = containers(workload)
        commands[name] = container["command"]
    assert commands == procfile()


def test_the_topic_bootstrap_runs_as_a_job_that_the_next_apply_repeats():
    [job] = objects("Job").values()
    [container] = containers(job)
    assert container["command"] == TOPIC_BOOTSTRAP
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert "ttlSecondsAfterFinished" in job["spec"]


def test_every_container_runs_the_one_image_with_the_shared_configuration():
    assert [i["name"] for i in kustomization()["images"]] == [IMAGE.split(":")[0]]
    configmap = config()["metadata"]["name"]
    for name, pod in pods().items():
        for container in pod["containers"]:
            assert container["image"] == IMAGE, name
            refs = container["envFrom"]
            assert {"configMapRef": {"name": configmap}} in refs, name


def test_every_long_running_process_reads_the_secret_that_the_template_describes():
    template = secret_template()
    assert template["metadata"]["namespace"] == NAMESPACE
    assert set(template["stringData"]) == SECRET_VARIABLES
    for name, workload in workloads().items():
        for container in containers(workload):
            secret_ref = {"secretRef": {"name": template["metadata"]["name"]}}
            assert secret_ref in container["envFrom"], name


def test_every_container_has_resource_requests_and_limits():
    for name, pod in pods().items():
        for container in pod["containers"]:
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), name


def test_every_pod_runs_as_a_non_root_user_without_privileges():
    for name, pod in pods().items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name


def test_web_pods_are_replicated_probed_served_and_scraped_on_the_contract_port():
    services = objects("Service")
    webs = {name: w for name, w in workloads().items() if is_web(containers(w)[0]["command"])}
    assert sorted(webs) == sorted(n for n, argv in procfile().items() if is_web(argv))
    for name, workload in webs.items():
        port = CONTRACT_PORTS[name]
        assert web_port(name) == port
        assert workload["kind"] == "Deployment" and workload["spec"]["replicas"] >= 2
        [container] = containers(workload)
        assert env_value(container, bind_variable(name))["value"] == f"0.0.0.0:{port}"
        [http] = container["ports"]
        assert http["containerPort"] == port
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": http["name"]}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": http["name"]}
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)
        [service_port] = services[name]["spec"]["ports"]
        assert service_port["port"] == port and service_port["targetPort"] == http["name"]


def test_every_worker_pod_serves_its_own_metrics_for_prometheus_to_scrape():
    assert "METRICS_PORT" in known_variables()  # shared.metrics.serve_from_env reads it
    for name, workload in workloads().items():
        [container] = containers(workload)
        if is_web(container["command"]):
            continue
        port = env_value(container, "METRICS_PORT")["value"]
        assert {"name": "metrics", "containerPort": int(port)} in container["ports"], name
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == port, name


def test_every_pod_has_a_fresh_multiprocess_metrics_directory_of_its_own():
    directory = config()["data"]["PROMETHEUS_MULTIPROC_DIR"]
    for name, workload in workloads().items():
        pod = workload["spec"]["template"]["spec"]
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        [container] = pod["containers"]
        mounted = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounted.get(directory) in empty_dirs, name


def test_consumers_are_stateful_sets_whose_pod_names_give_static_group_membership():
    partitions = int(config()["data"]["KAFKA_PARTITIONS"])
    headless = {n for n, s in objects("Service").items() if s["spec"].get("clusterIP") == "None"}
    consumers = [n for n in procfile() if n.endswith("-consumer")]
    assert consumers
    for name in consumers:
        consumer = workloads()[name]
        assert consumer["kind"] == "StatefulSet", name
        assert 1 <= consumer["spec"]["replicas"] <= partitions, name
        assert consumer["spec"]["serviceName"] in headless, name
        [container] = containers(consumer)
        instance = env_value(container, "CONSUMER_INSTANCE_ID")
        assert instance["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, name


def test_leased_workers_run_a_second_replica_that_stands_by():
    leased = [n for n in procfile() if n.endswith(TWO_REPLICAS)]
    assert leased
    for name in leased:
        assert workloads()[name]["kind"] == "Deployment", name
        assert workloads()[name]["spec"]["replicas"] == 2, name


def test_the_config_map_holds_only_variables_the_code_reads_and_no_secret():
    data = config()["data"]
    assert set(data) >= REQUIRED_CONFIG
    assert set(data) <= known_variables(), set(data) - known_variables()
    assert not set(data) & SECRET_VARIABLES
    assert all(isinstance(value, str) for value in data.values())  # ConfigMap values are strings


def test_every_variable_a_container_sets_is_one_the_code_reads():
    for name, pod in pods().items():
        for container in pod["containers"]:
            unknown = {e["name"] for e in container.get("env", [])} - known_variables()
            assert not unknown, f"{name}: {unknown}"


def test_the_database_is_a_replica_set_written_with_majority_acknowledgement():
    uri = config()["data"]["MONGODB_URI"]
    assert "replicaSet=" in uri and "w=majority" in uri
    assert len(config()["data"]["KAFKA_BOOTSTRAP_SERVERS"].split(",")) >= 3


def test_selectors_of_workloads_services_and_disruption_budgets_find_their_pods():
    pod_labels = {n: w["spec"]["template"]["metadata"]["labels"] for n, w in workloads().items()}

    def selects(selector: dict) -> list[str]:
        return [n for n, labels in pod_labels.items() if selector.items() <= labels.items()]

    for name, workload in workloads().items():
        assert selects(workload["spec"]["selector"]["matchLabels"]) == [name]
    for name, service in objects("Service").items():
        assert selects(service["spec"]["selector"]) == [name]
    budgets = objects("PodDisruptionBudget")
    for name, budget in budgets.items():
        assert selects(budget["spec"]["selector"]["matchLabels"]) == [name]
    assert set(budgets) == set(workloads())


def test_topics_get_three_replicas_two_in_sync_and_producers_wait_for_all():
    data = config()["data"]
    assert (data["KAFKA_REPLICATION_FACTOR"], data["KAFKA_MIN_INSYNC_REPLICAS"],
            data["KAFKA_ACKS"]) == ("3", "2", "all")

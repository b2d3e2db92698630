"""Compact JSON schema of the KubeRay ``ray.io/v1`` fields our manifests may use, plus cross-field rules.

No KubeRay CRD ships in the ray wheel and there is no network at test time, so this is a hand-written
subset, from the KubeRay API types (``ray-operator/apis/ray/v1/raycluster_types.go``,
``rayjob_types.go``; API reference https://ray-project.github.io/kuberay/reference/api/) and the
Kubernetes ``core/v1`` PodTemplateSpec. Every object is closed (``additionalProperties: false``): a
misspelt or unsupported field fails here, as ``kubectl apply`` with server-side field validation
(strict) would fail against the real CRD. Objects we never look inside (affinity, securityContext,
lifecycle, headService, ...) are typed ``object`` only.

Fields (``*`` = required):
  RayCluster: apiVersion* = ray.io/v1, kind* = RayCluster, metadata*{name*}, spec* RayClusterSpec
  RayClusterSpec: headGroupSpec*, workerGroupSpecs, rayVersion, enableInTreeAutoscaling,
      autoscalerOptions, authOptions{mode: disabled|token} (KubeRay >= 1.5.1), headServiceAnnotations,
      suspend, gcsFaultToleranceOptions, managedBy
  HeadGroupSpec: rayStartParams*, template*, serviceType, headService, enableIngress
  WorkerGroupSpec: groupName*, minReplicas*, maxReplicas*, rayStartParams*, template*, replicas,
      numOfHosts, idleTimeoutSeconds, suspend, scaleStrategy
  RayJob: apiVersion*, kind* = RayJob, metadata*{name*}, spec* RayJobSpec
  RayJobSpec: entrypoint, runtimeEnvYAML, rayClusterSpec, clusterSelector, submissionMode,
      shutdownAfterJobFinishes, ttlSecondsAfterFinished, activeDeadlineSeconds, backoffLimit,
      entrypointNumCpus, entrypointNumGpus, entrypointResources, jobId, metadata, submitterPodTemplate,
      submitterConfig, suspend, managedBy, deletionStrategy
  (rayStartParams values are strings, as in the CRD: ``num-cpus: "0"``.)
Cross-field rules (KubeRay's validation): a RayJob has exactly one of rayClusterSpec / clusterSelector;
shutdownAfterJobFinishes needs rayClusterSpec; ttlSecondsAfterFinished needs shutdownAfterJobFinishes;
entrypoint is required unless submissionMode is InteractiveMode; minReplicas <= replicas <= maxReplicas;
worker group names are unique; every pod template has at least one container.
"""
from __future__ import annotations

from typing import Any, Dict, List

import jsonschema

STR = {"type": "string"}
INT = {"type": "integer"}
NONNEG = {"type": "integer", "minimum": 0}
BOOL = {"type": "boolean"}
NUM = {"type": "number", "minimum": 0}
ANY_OBJ = {"type": "object"}
STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
QUANTITY_MAP = {"type": "object", "additionalProperties": {"type": ["string", "integer", "number"]}}


def obj(props: Dict[str, Any], required: tuple = ()) -> Dict[str, Any]:
    """A closed object: only ``props`` allowed, ``required`` must be present."""
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}


def arr(items: Dict[str, Any], min_items: int = 0) -> Dict[str, Any]:
    return {"type": "array", "items": items, "minItems": min_items}


METADATA = obj({"name": STR, "namespace": STR, "labels": STR_MAP, "annotations": STR_MAP}, ("name",))

ENV_VAR = obj({"name": STR, "value": STR, "valueFrom": ANY_OBJ}, ("name",))
ENV_FROM = obj({"configMapRef": obj({"name": STR, "optional": BOOL}, ("name",)),
                "secretRef": obj({"name": STR, "optional": BOOL}, ("name",)), "prefix": STR})
CONTAINER = obj({
    "name": STR, "image": STR,
    "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    "command": arr(STR), "args": arr(STR), "workingDir": STR,
    "env": arr(ENV_VAR), "envFrom": arr(ENV_FROM),
    "ports": arr(obj({"containerPort": INT, "name": STR, "protocol": {"enum": ["TCP", "UDP", "SCTP"]}},
                     ("containerPort",))),
    "resources": obj({"requests": QUANTITY_MAP, "limits": QUANTITY_MAP}),
    "volumeMounts": arr(obj({"name": STR, "mountPath": STR, "readOnly": BOOL, "subPath": STR},
                            ("name", "mountPath"))),
    "lifecycle": ANY_OBJ, "securityContext": ANY_OBJ, "readinessProbe": ANY_OBJ, "livenessProbe": ANY_OBJ,
}, ("name", "image"))
VOLUME = obj({
    "name": STR,
    "emptyDir": obj({"medium": STR, "sizeLimit": {"type": ["string", "integer"]}}),
    "persistentVolumeClaim": obj({"claimName": STR, "readOnly": BOOL}, ("claimName",)),
    "configMap": obj({"name": STR, "items": arr(ANY_OBJ), "defaultMode": INT}, ("name",)),
    "secret": obj({"secretName": STR, "items": arr(ANY_OBJ), "defaultMode": INT}, ("secretName",)),
    "hostPath": obj({"path": STR, "type": STR}, ("path",)),
}, ("name",))
TOLERATION = obj({"key": STR, "operator": {"enum": ["Exists", "Equal"]}, "value": STR,
                  "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
                  "tolerationSeconds": INT})
POD_SPEC = obj({
    "containers": arr(CONTAINER, min_items=1), "initContainers": arr(CONTAINER),
    "volumes": arr(VOLUME), "nodeSelector": STR_MAP, "tolerations": arr(TOLERATION), "affinity": ANY_OBJ,
    "serviceAccountName": STR, "restartPolicy": {"enum": ["Always", "OnFailure", "Never"]},
    "imagePullSecrets": arr(obj({"name": STR}, ("name",))), "securityContext": ANY_OBJ,
    "priorityClassName": STR, "schedulerName": STR, "terminationGracePeriodSeconds": INT,
}, ("containers",))
POD_TEMPLATE = obj({"metadata": obj({"name": STR, "labels": STR_MAP, "annotations": STR_MAP}),
                    "spec": POD_SPEC}, ("spec",))

HEAD_GROUP = obj({
    "serviceType": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "headService": ANY_OBJ, "enableIngress": BOOL,
    "rayStartParams": STR_MAP, "template": POD_TEMPLATE,
}, ("rayStartParams", "template"))
WORKER_GROUP = obj({
    "groupName": STR, "replicas": NONNEG, "minReplicas": NONNEG, "maxReplicas": NONNEG,
    "numOfHosts": {"type": "integer", "minimum": 1}, "idleTimeoutSeconds": NONNEG, "suspend": BOOL,
    "rayStartParams": STR_MAP, "template": POD_TEMPLATE,
    "scaleStrategy": obj({"workersToDelete": arr(STR)}),
}, ("groupName", "minReplicas", "maxReplicas", "rayStartParams", "template"))
AUTOSCALER_OPTIONS = obj({
    "resources": obj({"requests": QUANTITY_MAP, "limits": QUANTITY_MAP}), "image": STR,
    "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    "env": arr(ENV_VAR), "envFrom": arr(ENV_FROM), "volumeMounts": arr(ANY_OBJ), "securityContext": ANY_OBJ,
    "idleTimeoutSeconds": NONNEG, "upscalingMode": {"enum": ["Default", "Aggressive", "Conservative"]},
    "version": {"enum": ["v1", "v2"]},
})
RAY_CLUSTER_SPEC = obj({
    "headGroupSpec": HEAD_GROUP, "workerGroupSpecs": arr(WORKER_GROUP), "rayVersion": STR,
    "enableInTreeAutoscaling": BOOL, "autoscalerOptions": AUTOSCALER_OPTIONS,
    "authOptions": obj({"mode": {"enum": ["disabled", "token"]}}),
    "headServiceAnnotations": STR_MAP, "suspend": BOOL, "gcsFaultToleranceOptions": ANY_OBJ,
    "managedBy": STR,
}, ("headGroupSpec",))
RAY_JOB_SPEC = obj({
    "entrypoint": STR, "runtimeEnvYAML": STR, "rayClusterSpec": RAY_CLUSTER_SPEC, "clusterSelector": STR_MAP,
    "submissionMode": {"enum": ["K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode"]},
    "shutdownAfterJobFinishes": BOOL, "ttlSecondsAfterFinished": NONNEG,
    "activeDeadlineSeconds": {"type": "integer", "minimum": 1}, "backoffLimit": NONNEG,
    "entrypointNumCpus": NUM, "entrypointNumGpus": NUM, "entrypointResources": STR, "jobId": STR,
    "metadata": STR_MAP, "submitterPodTemplate": POD_TEMPLATE, "submitterConfig": obj({"backoffLimit": NONNEG}),
    "suspend": BOOL, "managedBy": STR, "deletionStrategy": ANY_OBJ,
})


def _resource(kind: str, spec: Dict[str, Any]) -> Dict[str, Any]:
    return obj({"apiVersion": {"const": "ray.io/v1"}, "kind": {"const": kind}, "metadata": METADATA,
                "spec": spec}, ("apiVersion", "kind", "metadata", "spec"))


CONFIG_MAP = obj({"apiVersion": {"const": "v1"}, "kind": {"const": "ConfigMap"}, "metadata": METADATA,
                  "data": STR_MAP}, ("apiVersion", "kind", "metadata", "data"))
SCHEMAS = {"RayCluster": _resource("RayCluster", RAY_CLUSTER_SPEC),
           "RayJob": _resource("RayJob", RAY_JOB_SPEC),
           "ConfigMap": CONFIG_MAP}


class ManifestError(ValueError):
    """A manifest breaks the field schema or a cross-field rule; the message names the field path."""


def _check_cluster_spec(spec: Dict[str, Any], where: str) -> None:
    names: List[str] = []
    for i, g in enumerate(spec.get("workerGroupSpecs", [])):
        path = f"{where}.workerGroupSpecs[{i}]"
        lo, hi = g["minReplicas"], g["maxReplicas"]
        if lo > hi:
            raise ManifestError(f"{path}: minReplicas {lo} > maxReplicas {hi}")
        if "replicas" in g and not lo <= g["replicas"] <= hi:
            raise ManifestError(f"{path}.replicas: {g['replicas']} outside [{lo}, {hi}]")
        if g["groupName"] in names:
            raise ManifestError(f"{path}.groupName: duplicate {g['groupName']!r}")
        names.append(g["groupName"])


def validate_manifest(doc: Dict[str, Any]) -> None:
    """Raise :class:`ManifestError` naming the field when ``doc`` is not a valid manifest we support."""
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind not in SCHEMAS:
        raise ManifestError(f"kind: unsupported {kind!r}; known: {sorted(SCHEMAS)}")
    try:
        jsonschema.validate(doc, SCHEMAS[kind])
    except jsonschema.ValidationError as e:
        path = ".".join(str(p) for p in e.absolute_path) or "<root>"
        raise ManifestError(f"{kind} {path}: {e.message}") from None
    spec = doc.get("spec", {})
    if kind == "RayCluster":
        _check_cluster_spec(spec, "spec")
    elif kind == "RayJob":
        if ("rayClusterSpec" in spec) == ("clusterSelector" in spec):
            raise ManifestError("RayJob spec: exactly one of rayClusterSpec / clusterSelector")
        if spec.get("shutdownAfterJobFinishes") and "rayClusterSpec" not in spec:
            raise ManifestError("RayJob spec.shutdownAfterJobFinishes: only with rayClusterSpec")
        if spec.get("ttlSecondsAfterFinished") and not spec.get("shutdownAfterJobFinishes"):
            raise ManifestError("RayJob spec.ttlSecondsAfterFinished: needs shutdownAfterJobFinishes: true")
        if spec.get("submissionMode", "K8sJobMode") != "InteractiveMode" and not spec.get("entrypoint"):
            raise ManifestError("RayJob spec.entrypoint: required unless submissionMode is InteractiveMode")
        if "rayClusterSpec" in spec:
            _check_cluster_spec(spec["rayClusterSpec"], "spec.rayClusterSpec")

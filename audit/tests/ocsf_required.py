"""What OCSF 1.3.0 requires of the classes and objects the stream uses, for the tests.

No package on the registries this project uses ships the OCSF schema's JSON (ocsf-lib,
py-ocsf-models and ocsf-emitter were looked at: code and models, no schema files), so
these lists were written by hand from the OCSF schema 1.3.0 (github.com/ocsf/ocsf-schema,
Apache License 2.0): events/base_event.json with the classification and occurrence
attributes, events/iam/{authentication,account_change,user_access,group_management}.json,
events/application/{web_resources_activity,api_activity}.json, and
objects/{metadata,product,user,group,actor,api,web_resource,network_endpoint}.json.
"required" attributes must be present and non-empty; "at_least_one" constraints need
one of the names present.
"""

BASE_REQUIRED = {
    "activity_id": int,
    "category_uid": int,
    "class_uid": int,
    "metadata": dict,
    "severity_id": int,
    "time": int,
    "type_uid": int,
}

CLASSES = {
    # class_uid: (category_uid, its activity ids (99: Other), required, at_least_one)
    3001: (3, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99}, ("user",), ()),
    3002: (3, {0, 1, 2, 3, 4, 5, 6, 7, 99}, ("user",), ("service", "dst_endpoint")),
    3005: (3, {0, 1, 2, 99}, ("privileges", "user"), ()),
    3006: (3, {0, 1, 2, 3, 4, 5, 6, 99}, ("group",), ("privileges", "user")),
    6001: (6, {0, 1, 2, 3, 4, 5, 6, 7, 8, 99}, ("web_resources",), ()),
    6003: (6, {0, 1, 2, 3, 4, 99}, ("actor", "api", "src_endpoint"), ()),
}

OBJECTS = {
    # object: (required, at_least_one)
    "metadata": (("product", "version"), ()),
    "product": (("vendor_name",), ()),
    "user": ((), ("account", "name", "uid")),
    "group": ((), ("name", "uid")),
    "actor": ((), ("process", "user", "invoked_by", "session", "app_name", "app_uid")),
    "api": (("operation",), ()),
    "web_resource": ((), ("name", "uid")),
    "network_endpoint": ((), ("ip", "hostname", "name", "uid", "instance_uid", "interface_uid")),
}
SEVERITY_IDS = {0, 1, 2, 3, 4, 5, 6, 99}
STATUS_IDS = {0, 1, 2, 99}


def present(value) -> bool:
    return value not in (None, "", [], {})


def object_problems(name: str, value, where: str) -> list[str]:
    required, one_of = OBJECTS[name]
    if not isinstance(value, dict):
        return [f"{where} is not an object"]
    problems = [
        f"{where}.{field} is required" for field in required if not present(value.get(field))
    ]
    if one_of and not any(present(value.get(field)) for field in one_of):
        problems.append(f"{where} needs one of {', '.join(one_of)}")
    return problems


def ocsf_problems(event: dict) -> list[str]:
    """Return what an event lacks against OCSF 1.3.0's requirements (empty: valid)."""
    problems = [
        f"{name} must be a {kind.__name__}"
        for name, kind in BASE_REQUIRED.items()
        if not isinstance(event.get(name), kind) or isinstance(event.get(name), bool)
    ]
    if problems:
        return problems
    class_uid = event["class_uid"]
    if class_uid not in CLASSES:
        return [f"class_uid {class_uid} is not a class this mapping uses"]
    category, activities, required, one_of = CLASSES[class_uid]
    if event["category_uid"] != category:
        problems.append(f"category_uid {event['category_uid']} is not {category}")
    if event["activity_id"] not in activities:
        problems.append(f"activity_id {event['activity_id']} is not one of class {class_uid}")
    if event["type_uid"] != class_uid * 100 + event["activity_id"]:
        problems.append("type_uid is not class_uid * 100 + activity_id")
    if event["severity_id"] not in SEVERITY_IDS:
        problems.append("severity_id out of its enum")
    if event.get("status_id") not in STATUS_IDS:
        problems.append("status_id out of its enum")
    problems += [
        f"{field} is required by {class_uid}" for field in required if not present(event.get(field))
    ]
    if one_of and not any(present(event.get(field)) for field in one_of):
        problems.append(f"class {class_uid} needs one of {', '.join(one_of)}")
    problems += object_problems("metadata", event["metadata"], "metadata")
    problems += object_problems("product", event["metadata"].get("product"), "metadata.product")
    for field, kind in (("user", "user"), ("group", "group"), ("actor", "actor"), ("api", "api")):
        if field in event:
            problems += object_problems(kind, event[field], field)
    if "actor" in event and "user" in event["actor"]:
        problems += object_problems("user", event["actor"]["user"], "actor.user")
    for endpoint in ("src_endpoint", "dst_endpoint"):
        if endpoint in event:
            problems += object_problems("network_endpoint", event[endpoint], endpoint)
    for index, resource in enumerate(event.get("web_resources", [])):
        problems += object_problems("web_resource", resource, f"web_resources[{index}]")
    return problems

"""template.yaml after the SAM transform: least privilege, secrets kept out of the
environment, failures kept, no dependency cycle in either bucket mode."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from check_template import transformed  # noqa: E402

S3_ACTIONS = {
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
}


@pytest.fixture(scope="module")
def template() -> dict:
    return transformed(ROOT / "template.yaml")


def resources(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def branches(value):
    """Every statement a possibly conditional list element can become."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, yes, no = value["Fn::If"]
        return [b for v in (yes, no) for b in branches(v)]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(template):
    """(owner, statement) for every IAM policy statement in the template, both branches."""
    found = []
    for name, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                found += [(name, s) for s in branches(st)]
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            found += [(name, s) for s in branches(st)]
    return found


def function_role(template):
    function = template["Resources"]["CaptionFunction"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    return template["Resources"]["FunctionRole"]


# X-Ray's trace upload has no resource narrower than "*"; it is granted only with Tracing=Active.
WRITE_ONLY_ON_EVERY_RESOURCE = {"Traces": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}}


def test_no_wildcard_action_or_resource_is_allowed(template):
    allows = [(owner, st) for owner, st in statements(template) if st["Effect"] == "Allow"]
    assert allows, "the function role grants something"
    for owner, st in allows:
        for action in as_list(st["Action"]):
            assert "*" not in action, f"{owner}: wildcard action {action}"
        for resource in as_list(st["Resource"]):
            if resource == "*":
                assert set(as_list(st["Action"])) == WRITE_ONLY_ON_EVERY_RESOURCE.get(st.get("Sid")), (
                    f"{owner}: {st.get('Sid')} on every resource"
                )


def test_tracing_is_a_choice(template):
    function = template["Resources"]["CaptionFunction"]["Properties"]
    assert function["TracingConfig"] == {"Mode": {"Ref": "Tracing"}}
    assert template["Parameters"]["Tracing"]["Default"] == "PassThrough"
    assert template["Conditions"]["UseXRay"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}


def test_the_role_is_inline_only(template):
    role = function_role(template)["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert len(resources(template, "AWS::IAM::Role")) == 1
    assert not resources(template, "AWS::IAM::Policy")


def by_sid(template):
    return {st["Sid"]: st for owner, st in statements(template) if owner == "FunctionRole"}


def test_s3_access_is_the_six_object_actions_on_the_bucket_objects(template):
    st = by_sid(template)["ReadAndTagImages"]
    assert set(st["Action"]) == S3_ACTIONS
    created, existing = st["Resource"]["Fn::If"][1:]
    assert created == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}-${AWS::Region}/*"}
    assert existing == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ExistingBucketName}/*"}
    # The bucket the stack creates has exactly the name the policy grants.
    bucket = template["Resources"]["UploadsBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert created["Fn::Sub"] == f"arn:${{AWS::Partition}}:s3:::{bucket}/*"


def test_other_grants_are_scoped_to_their_one_resource(template):
    sids = by_sid(template)
    assert set(sids) == {
        "ReadAndTagImages", "Records", "FailedEvents", "Logs", "QueueMessages", "ApiKeyParameter", "ApiKeySecret",
        "BedrockModel", "Traces", "TellDeletedImages", "DecryptImages",
    }
    # Decrypting with the bucket's key, through S3 of this Region only.
    assert sids["DecryptImages"]["Action"] == "kms:Decrypt"
    assert sids["DecryptImages"]["Resource"] == {"Ref": "BucketKmsKeyArn"}
    assert sids["DecryptImages"]["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
    }
    assert set(sids["QueueMessages"]["Action"]) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    assert sids["QueueMessages"]["Resource"] == {"Fn::GetAtt": ["UploadsQueue", "Arn"]}
    # Read, write, claim, and delete when the image is deleted: nothing else.
    assert set(sids["Records"]["Action"]) == {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    }
    assert sids["Records"]["Resource"] == {"Fn::GetAtt": ["RecordsTable", "Arn"]}
    assert sids["FailedEvents"]["Action"] == "sqs:SendMessage"
    assert sids["FailedEvents"]["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert set(sids["Logs"]["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert sids["Logs"]["Resource"] == {"Fn::GetAtt": ["LogGroup", "Arn"]}
    assert sids["ApiKeyParameter"]["Action"] == "ssm:GetParameter"
    assert sids["ApiKeyParameter"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ApiKeyParameterName}"
    }
    assert sids["ApiKeySecret"]["Action"] == "secretsmanager:GetSecretValue"
    assert sids["ApiKeySecret"]["Resource"] == {"Ref": "ApiKeySecretArn"}
    # Listing, to tell a deleted key (404) from a forbidden one: on the bucket alone.
    assert sids["TellDeletedImages"]["Action"] == "s3:ListBucket"
    bucket = template["Resources"]["UploadsBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert sids["TellDeletedImages"]["Resource"]["Fn::If"][1] == {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}"}
    assert sids["BedrockModel"]["Action"] == "bedrock:InvokeModel"
    assert sids["BedrockModel"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${BedrockModelId}"},
        {"Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/${BedrockModelId}"},
    ]


def test_key_grants_exist_only_when_a_key_store_is_named(template):
    policy = function_role(template)["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    conditional = {st["Fn::If"][1]["Sid"]: st["Fn::If"][0] for st in policy if "Fn::If" in st}
    assert conditional == {
        "QueueMessages": "UseQueue", "ApiKeyParameter": "HasKeyParameter", "ApiKeySecret": "HasKeySecret",
        "BedrockModel": "UseBedrock", "Traces": "UseXRay", "DecryptImages": "HasBucketKmsKey",
    }


@pytest.mark.parametrize(
    "chain, uses_bedrock",
    [("embedded,alttextlab", False), ("bedrock", True), ("embedded,bedrock,openai", True), ("openai", False)],
)
def test_bedrock_is_granted_only_when_the_chain_names_it(template, chain, uses_bedrock):
    # Evaluate the UseBedrock condition the way CloudFormation does.
    condition = template["Conditions"]["UseBedrock"]
    joined = condition["Fn::Not"][0]["Fn::Equals"][0]["Fn::Join"]
    separator, (split_on, _) = joined[0], joined[1]["Fn::Split"]
    removed = separator.join(chain.split(split_on))
    assert (removed != chain) == uses_bedrock


def test_the_api_key_is_never_in_the_environment_or_a_parameter(template):
    env = template["Resources"]["CaptionFunction"]["Properties"]["Environment"]["Variables"]
    assert "ALT_TEXT_API_KEY" not in env
    assert env["ALT_TEXT_API_KEY_PARAMETER"] == {"Ref": "ApiKeyParameterName"}
    assert env["ALT_TEXT_API_KEY_SECRET_ID"] == {"Ref": "ApiKeySecretArn"}
    # The stack takes where the key is stored, never the key itself.
    api_key_parameters = [n for n in template["Parameters"] if "apikey" in n.lower()]
    assert sorted(api_key_parameters) == ["ApiKeyParameterName", "ApiKeySecretArn"]


def test_the_function_is_the_rust_custom_runtime(template):
    raw = (ROOT / "template.yaml").read_text()
    assert "BuildMethod: rust-cargolambda" in raw
    fn = template["Resources"]["CaptionFunction"]["Properties"]
    assert (fn["Runtime"], fn["Handler"]) == ("provided.al2023", "bootstrap")
    assert fn["Architectures"] == [{"Ref": "Architecture"}]
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"


def test_failed_events_are_kept(template):
    config = resources(template, "AWS::Lambda::EventInvokeConfig")["CaptionFunctionEventInvokeConfig"]["Properties"]
    assert config["MaximumRetryAttempts"] <= 2
    assert config["MaximumEventAgeInSeconds"] <= 6 * 3600
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    rule = template["Resources"]["ObjectCreatedRule"]["Properties"]
    assert rule["Targets"][0]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert template["Resources"]["LogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_deletions_arrive_in_every_mode(template):
    notifications = template["Resources"]["UploadsBucket"]["Properties"]["NotificationConfiguration"]
    for kind, target in (("LambdaConfigurations", "Function"), ("QueueConfigurations", "Queue")):
        configured = notifications[kind]["Fn::If"]
        entries = [b for b in configured[1:] if isinstance(b, list)][0]
        events = sorted(e["Event"] for e in entries)
        assert events == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], kind
        # Both with the same target and key filter.
        assert entries[0][target] == entries[1][target]
        assert entries[0]["Filter"] == entries[1]["Filter"]
    rule = template["Resources"]["ObjectCreatedRule"]["Properties"]["EventPattern"]
    assert sorted(rule["detail-type"]) == ["Object Created", "Object Deleted"]


def test_the_bucket_is_private_and_encrypted(template):
    bucket = template["Resources"]["UploadsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    table = template["Resources"]["RecordsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]


def references(value):
    """Logical ids a property value refers to."""
    found = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                found |= {m.split(".")[0] for m in __import__("re").findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(v, list):
                    found |= references(v[1])
            else:
                found |= references(v)
    elif isinstance(value, list):
        for v in value:
            found |= references(v)
    return found


MODES = {
    "direct": {"CreateBucket", "DirectToFunction"},
    "queue": {"CreateBucket", "UseQueue"},
    "existing bucket": {"UseExistingBucket"},
}


@pytest.mark.parametrize("mode", MODES)
def test_no_dependency_cycle(template, mode):
    res = template["Resources"]
    present = {n for n, r in res.items() if r.get("Condition") in {None} | MODES[mode]}
    graph = {}
    for name in present:
        deps = references(res[name].get("Properties", {})) | references(res[name].get("Metadata", {}))
        deps |= set(as_list(res[name].get("DependsOn", [])))
        graph[name] = deps & present
    state = {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        assert state.get(node) != "active", f"cycle: {' -> '.join(path + [node])}"
        state[node] = "active"
        for dep in graph[node]:
            visit(dep, path + [node])
        state[node] = "done"

    for node in graph:
        visit(node, [])
    if mode == "direct":
        assert "UploadsInvokePermission" in graph["UploadsBucket"], "the bucket waits for its invoke permission"
    if mode == "queue":
        assert "UploadsQueuePolicy" in graph["UploadsBucket"], "the bucket waits for its queue policy"


def test_queue_mode_follows_the_lambda_advice(template):
    queue = template["Resources"]["UploadsQueue"]["Properties"]
    timeout = template["Resources"]["CaptionFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    mapping = template["Resources"]["UploadsQueueEventSource"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["UploadsQueue", "Arn"]}
    # Concurrency is bounded by the mapping, not by reserved concurrency (whose throttled
    # polls count towards maxReceiveCount and send waiting messages to the DLQ).
    assert mapping["ScalingConfig"] == {
        "Fn::If": ["HasQueueConcurrency", {"MaximumConcurrency": {"Ref": "QueueConcurrency"}}, {"Ref": "AWS::NoValue"}]
    }
    assert template["Parameters"]["DeliveryMode"]["Default"] == "queue", "the cheaper mode by default"
    variables = template["Resources"]["CaptionFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ALT_TEXT_BUDGET"] == {"Ref": "CallBudget"}


def test_samconfig_overrides_name_template_parameters(template):
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config["default"]["deploy"]["parameters"]["parameter_overrides"]
    names = {o.split("=", 1)[0] for o in overrides}
    assert names <= set(template["Parameters"]), names - set(template["Parameters"])

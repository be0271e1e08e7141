"""Validates template.yaml offline: cfn-lint must be clean, and the SAM transform
(aws-sam-translator, no AWS call) must succeed. Writes the transformed CloudFormation to
target/template.transformed.json for the template tests.

Usage: check_template.py [OUTPUT]
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def transformed(path: Path) -> dict:
    """The template after the SAM transform, computed locally."""
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform

    template, errors = decode(str(path))
    if errors:
        sys.exit(f"{path}: {errors}")

    class NoManagedPolicies:
        """The template names no managed policy, so no IAM lookup is needed."""

        def load(self) -> dict:
            return {}

    template = json.loads(json.dumps(template))
    # `sam build` and `sam deploy` replace a local CodeUri with the uploaded package; stand in
    # for that upload as `sam validate` does.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://placeholder-bucket/s3-alt-text.zip"
    return transform(template, {}, NoManagedPolicies())


def main() -> int:
    template = ROOT / "template.yaml"
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/template.transformed.json"
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    lint = subprocess.run([str(cfn_lint), str(template)], capture_output=True, text=True)
    if lint.returncode != 0:
        print(lint.stdout + lint.stderr)
        print("cfn-lint: template.yaml has findings")
        return 1
    print("cfn-lint: template.yaml is clean")
    result = transformed(template)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True))
    kinds = sorted({r["Type"] for r in result["Resources"].values()})
    print(f"SAM transform: {len(result['Resources'])} resources ({', '.join(kinds)}) -> {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

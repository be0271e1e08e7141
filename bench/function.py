"""The function a user would otherwise write in Python, after AltTextLab's documentation:
presign the new object with boto3, send the URL to AltTextLab, tag the object with the
caption (keeping its tags) and put a DynamoDB record. Run under awslambdaric."""

import os
import urllib.parse

import boto3
import requests

s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")
API_URL = os.environ["ALT_TEXT_API_URL"]
API_KEY = os.environ["ALT_TEXT_API_KEY"]
TABLE = os.environ["TABLE_NAME"]


def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
        response = requests.post(
            f"{API_URL}/api/v1/alt-text/generate",
            headers={"x-api-key": API_KEY},
            json={"imageUrl": url, "lang": "en"},
            timeout=30,
        )
        response.raise_for_status()
        caption = response.json()["result"]
        tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        tags = [t for t in tags if t["Key"] != "alt-text"] + [{"Key": "alt-text", "Value": caption[:256]}]
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags})
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": bucket}, "sk": {"S": key}, "state": {"S": "captioned"}, "alt_text": {"S": caption}},
        )
    return {"captioned": len(event["Records"])}

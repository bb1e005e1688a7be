"""The template resources lambench creates in the embedded account, and what references to them mean.

CloudFormation gives a resource without an explicit name a generated one (`stack-Logical-RANDOM`);
lambench names it after its logical id instead (lowercased for buckets, which must be), so names are
stable between runs and readable in a demo. `!Ref` and `!GetAtt` then resolve as CloudFormation
documents for each type: a queue's Ref is its URL, a topic's its ARN, a table's and a bucket's their name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lambench.core.record import field, record

S3_BUCKET = "AWS::S3::Bucket"
SQS_QUEUE = "AWS::SQS::Queue"
DYNAMODB_TABLE = "AWS::DynamoDB::Table"
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
SNS_TOPIC = "AWS::SNS::Topic"
KINESIS_STREAM = "AWS::Kinesis::Stream"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"

#: Resource types created in the embedded account, with the property that names each explicitly.
NAME_PROPERTIES: dict[str, str] = {
    S3_BUCKET: "BucketName",
    SQS_QUEUE: "QueueName",
    DYNAMODB_TABLE: "TableName",
    SIMPLE_TABLE: "TableName",
    SNS_TOPIC: "TopicName",
    KINESIS_STREAM: "Name",
}

#: The properties lambench uses to create each type; others are left unread (and unresolved), so an
#: exotic property elsewhere in a resource does not stop the project from loading.
USED_PROPERTIES: dict[str, tuple[str, ...]] = {
    S3_BUCKET: ("BucketName",),
    SQS_QUEUE: (
        *("QueueName", "FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout", "DelaySeconds"),
        *("MessageRetentionPeriod", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds", "RedrivePolicy"),
    ),
    DYNAMODB_TABLE: (
        *("TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput"),
        *("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"),
    ),
    SIMPLE_TABLE: ("TableName", "PrimaryKey", "ProvisionedThroughput"),
    SNS_TOPIC: ("TopicName", "FifoTopic", "ContentBasedDeduplication"),
    KINESIS_STREAM: ("Name", "ShardCount", "RetentionPeriodHours"),
}

#: The `!GetAtt` attributes lambench resolves, per type (CloudFormation's return values).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    S3_BUCKET: ("Arn", "DomainName", "RegionalDomainName", "WebsiteURL"),
    SQS_QUEUE: ("Arn", "QueueName", "QueueUrl"),
    DYNAMODB_TABLE: ("Arn", "StreamArn"),
    SIMPLE_TABLE: ("Arn",),
    SNS_TOPIC: ("TopicArn", "TopicName"),
    KINESIS_STREAM: ("Arn",),
    SERVERLESS_FUNCTION: ("Arn",),
}

#: The label of `!GetAtt Table.StreamArn` (see `attribute`).
STREAM_LABEL = "latest"

_BUCKET_INVALID_RE = re.compile(r"[^a-z0-9.-]+")


@record(frozen=True)
class CloudResource:
    """One resource of the template to create in the embedded account.

    `properties` are the template's, with every intrinsic function resolved.
    """

    logical_id: str
    type: str
    name: str
    properties: Mapping[str, object] = field(default_factory=dict)


def default_name(resource_type: str, logical_id: str, fifo: bool = False) -> str:
    """The name lambench gives a resource the template does not name."""
    if resource_type == S3_BUCKET:
        name = _BUCKET_INVALID_RE.sub("-", logical_id.lower()).strip(".-")
        # Bucket names are 3 to 63 characters.
        return (name + "-bucket")[:63] if len(name) < 3 else name[:63]
    if resource_type == SQS_QUEUE and fifo:
        return f"{logical_id}.fifo"
    return logical_id


def ref_value(resource_type: str, name: str, region: str, account: str) -> str:
    """What `!Ref` of a resource of this type returns."""
    if resource_type == SQS_QUEUE:
        return queue_url(name, region, account)
    if resource_type == SNS_TOPIC:
        return f"arn:{partition(region)}:sns:{region}:{account}:{name}"
    return name


def attribute(resource_type: str, name: str, attr: str, region: str, account: str) -> str | None:
    """What `!GetAtt Resource.attr` returns, or None when lambench does not resolve that attribute."""
    arn_partition = partition(region)
    values: dict[str, str] = {}
    if resource_type == S3_BUCKET:
        values = {
            "Arn": f"arn:{arn_partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
        }
    elif resource_type == SQS_QUEUE:
        values = {
            "Arn": f"arn:{arn_partition}:sqs:{region}:{account}:{name}",
            "QueueName": name,
            "QueueUrl": queue_url(name, region, account),
        }
    elif resource_type in (DYNAMODB_TABLE, SIMPLE_TABLE):
        table_arn = f"arn:{arn_partition}:dynamodb:{region}:{account}:table/{name}"
        values = {"Arn": table_arn}
        if resource_type == DYNAMODB_TABLE:
            # The real label is the stream's creation time, unknown until the table exists; the
            # stream poller asks DescribeTable for the table's latest stream instead.
            values["StreamArn"] = f"{table_arn}/stream/{STREAM_LABEL}"
    elif resource_type == KINESIS_STREAM:
        values = {"Arn": f"arn:{arn_partition}:kinesis:{region}:{account}:stream/{name}"}
    elif resource_type == SNS_TOPIC:
        values = {"TopicArn": f"arn:{arn_partition}:sns:{region}:{account}:{name}", "TopicName": name}
    elif resource_type == SERVERLESS_FUNCTION:
        values = {"Arn": f"arn:{arn_partition}:lambda:{region}:{account}:function:{name}"}
    return values.get(attr)


def queue_url(name: str, region: str, account: str) -> str:
    """An SQS queue URL in AWS's form; moto reads the queue name from its last path segment."""
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def partition(region: str) -> str:
    """The ARN partition of a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"

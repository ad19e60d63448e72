"""Documents in S3-compatible object storage: the settings of docs/operations.md, against
moto's in-process S3 (the bucket is private; the API streams the file after its checks)."""

from __future__ import annotations

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from moto import mock_aws

from cases.models import Document
from tests.factories import PDF

BUCKET = "ipsupport-documents"


@pytest.fixture
def s3_documents(settings):  # type: ignore[no-untyped-def]
    with mock_aws():
        client = boto3.client("s3", region_name="ap-southeast-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
        storages = dict(settings.STORAGES)
        storages["documents"] = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "region_name": "ap-southeast-1",
                "access_key": "test",
                "secret_key": "test",
                "location": "ipsupport",
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
            },
        }
        settings.STORAGES = storages
        yield client


def test_an_upload_lands_in_the_private_bucket_and_downloads_through_the_api(
    s3_documents, client_for, case_in, applicant
):
    case = case_in("draft")
    client = client_for(applicant)

    response = client.post(
        f"/api/v1/cases/{case.pk}/documents/",
        {"kind": "invoice", "file": SimpleUploadedFile("hoa-don.pdf", PDF, "application/pdf")},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    document = Document.objects.get(pk=response.json()["id"])
    key = f"ipsupport/cases/{case.pk}/{document.pk}.pdf"
    assert s3_documents.get_object(Bucket=BUCKET, Key=key)["Body"].read() == PDF
    grants = s3_documents.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert [g["Grantee"].get("URI") for g in grants if g["Grantee"].get("URI")] == []  # no public grant
    download = client.get(f"/api/v1/cases/{case.pk}/documents/{document.pk}/download/")
    assert (download.status_code, b"".join(download.streaming_content)) == (200, PDF)

"""Photos in an S3-compatible bucket (PHOTO_STORAGE=s3), read by a worker that shares no disk with the web.

The bucket is moto's standalone server on a free port of this machine: the same HTTP API as
S3, so django-storages and boto3 run unchanged. The worker gets an empty MEDIA_ROOT of its own,
so a photo it scores can only have come from the bucket.
"""

import os
import shutil
import subprocess
import sys

import boto3
import pytest
from django.core.files.storage import default_storage

from measurements import services
from measurements.models import Photo
from patients import services as patient_services
from tests.conftest import make_patient
from tests.imaging import astronaut_face, to_jpeg_bytes

from .conftest import _free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BUCKET = "trial-photos-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_S3_REGION_NAME": "us-east-1"}


@pytest.fixture
def s3_server(tmp_path):
    port = _free_port()
    moto_server = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
    assert moto_server, "moto_server is missing: requirements-dev.txt installs moto[server]"
    log = open(tmp_path / "moto.log", "wb")
    proc = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def answers():
        try:
            client.list_buckets()
            return True
        except Exception:  # noqa: BLE001 - not up yet
            return False

    try:
        wait_for(answers, timeout=30, interval=0.2, what="moto's S3 server to answer")
        client.create_bucket(Bucket=BUCKET)
        yield endpoint, client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_storage(s3_server, settings):
    endpoint, client = s3_server
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }
    return endpoint, client


def test_a_worker_on_another_machine_scores_a_photo_from_the_bucket(
    s3_storage, worker_factory, site_a, coordinator_a, study, tmp_path
):
    endpoint, client = s3_storage
    assert default_storage.__class__.__name__ == "S3Storage"
    # The worker is told to use the bucket, and has a disk of its own with nothing on it.
    worker_disk = tmp_path / "worker-disk"
    worker_disk.mkdir()
    worker = worker_factory(
        extra_env={
            "PHOTO_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": endpoint,
            "MEDIA_ROOT": str(worker_disk),
            **CREDENTIALS,
        }
    )
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=0)
    visit = patient_services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient.enrollment_date,
    )
    photo = services.photo_upload(
        visit=visit, expression="rest", data=to_jpeg_bytes(astronaut_face()), filename="rest.jpg", by=coordinator_a
    )

    keys = [obj["Key"] for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert photo.original.name in keys, "the original went to the bucket"
    wait_for(
        lambda: Photo.objects.values_list("status", flat=True).get(pk=photo.pk) in (Photo.Status.SCORED,),
        timeout=120,
        what=lambda: f"the photo to be scored from the bucket\n{worker.log()}",
    )
    assert photo.scores.get().metrics["commissure_height_deviation_mm"] >= 0
    assert not any(worker_disk.rglob("*")), "the worker read the photo from the bucket, not from a disk"
    # Private: the bucket's objects carry no public-read grant.
    grants = client.get_object_acl(Bucket=BUCKET, Key=photo.original.name)["Grants"]
    assert not [g for g in grants if g["Grantee"].get("URI", "").endswith("AllUsers")]

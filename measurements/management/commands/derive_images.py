from django.core.management.base import BaseCommand

from measurements import services
from measurements.models import Photo


class Command(BaseCommand):
    help = (
        "Make the missing previews, thumbnails and overlays of scored photos (what the scoring task does "
        "after scoring). Run once on a worker after upgrading from a version that drew them in web requests."
    )

    def handle(self, *args, **options):
        photos = Photo.objects.filter(status__in=[Photo.Status.SCORED, Photo.Status.FAILED]).order_by("pk")
        done = 0
        for photo_id in photos.values_list("pk", flat=True).iterator():
            if services.photo_derive_images(photo_id=photo_id):
                done += 1
        self.stdout.write(f"Derived images present for {done} of {photos.count()} scored photos.")

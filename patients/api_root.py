"""`GET /api/v1/`: where a client starts. The studies its token (or login) may read, with the links
its role may follow, so that a script needs no URL but this one."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from patients.models import Study

from .api_plumbing import DATASET_ROLES, HasAnyStudyRole, Role, all_study_ids, request_access, roles_in_study

RECORD_ROLES = frozenset({Role.COORDINATOR, Role.INVESTIGATOR, Role.DATA_MANAGER})
# name -> (URL name, the roles that may follow it); the views keep their own checks.
STUDY_LINKS = {
    "dataset": ("api-dataset", DATASET_ROLES),
    "subjects": ("api-dataset-subjects", DATASET_ROLES),
    "injections": ("api-dataset-injections", DATASET_ROLES),
    "summary": ("api_study_summary", DATASET_ROLES),
    "patients": ("api-patients", RECORD_ROLES),
}


class StudyLinks(serializers.Serializer):
    dataset = serializers.URLField(required=False, help_text="Outcomes, long format (also ?format=csv, zip).")
    subjects = serializers.URLField(required=False)
    injections = serializers.URLField(required=False)
    summary = serializers.URLField(required=False, help_text="Needs ?metric= (and &expression= for a photo metric).")
    patients = serializers.URLField(required=False, help_text="Trial records, for the study's staff.")


class StudyEntry(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))
    links = StudyLinks()


class ApiRootOut(serializers.Serializer):
    studies = StudyEntry(many=True)
    schema = serializers.URLField()
    docs = serializers.URLField()


class ApiRoot(APIView):
    """The studies you may read (a token: its one study), each with the links your role may follow."""

    permission_classes = [HasAnyStudyRole]

    @extend_schema(responses={200: ApiRootOut})
    def get(self, request):
        access = request_access(request)
        studies = []
        for study in Study.objects.filter(pk__in=all_study_ids(access)).order_by("code"):
            roles = roles_in_study(access, study.pk)
            links = {
                name: request.build_absolute_uri(reverse(url_name, kwargs={"study_code": study.code}))
                for name, (url_name, allowed) in STUDY_LINKS.items()
                if roles & allowed
            }
            studies.append({"code": study.code, "title": study.title, "roles": sorted(roles), "links": links})
        return Response(
            {
                "studies": studies,
                "schema": request.build_absolute_uri(reverse("api-schema")),
                "docs": request.build_absolute_uri(reverse("api-docs")),
            }
        )

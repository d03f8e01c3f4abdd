"""k-anonymity: the smallest (age, sex, site, aetiology) group, and age banding until k >= min_k."""

import io
import zipfile
from datetime import timedelta

from django.utils import timezone

from analysis.dataset.anonymity import age_in_years, age_label, choose_banding, smallest_group
from tests.api.conftest import make_subject, subjects_url


def test_age_in_whole_years_on_the_day():
    from datetime import date

    assert age_in_years(date(1980, 6, 15), date(2020, 6, 14)) == 39
    assert age_in_years(date(1980, 6, 15), date(2020, 6, 15)) == 40


def test_age_labels():
    assert [age_label(43, b) for b in ("years", "5-year", "10-year")] == ["43", "40-44", "40-49"]
    assert age_label(89, "10-year") == "80-89"
    assert age_label(90, "years") == age_label(97, "5-year") == "90+"


def test_k_is_the_smallest_group():
    assert smallest_group([(1, "f"), (1, "f"), (2, "m")]) == 1
    assert smallest_group([]) is None


def test_banding_stops_at_the_finest_that_reaches_min_k():
    subjects = [(41, "f", "site-1", "x"), (43, "f", "site-1", "x"), (44, "f", "site-1", "x")]
    assert choose_banding(subjects, 1) == ("years", 1)
    assert choose_banding(subjects, 3) == ("5-year", 3)
    subjects.append((47, "f", "site-1", "x"))
    assert choose_banding(subjects, 3) == ("10-year", 4)


def test_banding_reports_when_even_ten_years_is_not_enough():
    assert choose_banding([(20, "f", "s", "x"), (60, "m", "s", "x")], 3) == ("10-year", 1)


def _enroll(site, coordinator, age, sex="female"):
    today = timezone.localdate()
    born = today - timedelta(days=30) - timedelta(days=int(age * 365.25) + 40)
    return make_subject(site, coordinator, date_of_birth=born, sex=sex)


def test_cohort_with_a_unique_group_exports_banded_ages(login, investigator, study, site_a, coordinator_a):
    # Three women aged 41, 42, 43 at site 1 form one 5-year band; the 44-year-old man is alone
    # even in 10-year bands (no other man at site 1), so ages end in 10-year bands and k = 1.
    for age in (41, 42, 43):
        _enroll(site_a, coordinator_a, age)
    _enroll(site_a, coordinator_a, 44, sex="male")
    client = login(investigator)
    response = client.get(subjects_url(study))
    body = response.json()
    assert response["X-Dataset-K"] == "1"
    assert response["X-Dataset-Age-Banding"] == "10-year"
    assert {r["age_years"] for r in body["results"]} == {"40-49"}
    readme = zipfile.ZipFile(io.BytesIO(b"".join(client.get(subjects_url(study), {"format": "zip"}).streaming_content)))
    text = readme.read("README.txt").decode()
    assert "banded into 10-year groups" in text and "still below the study minimum of 3" in text


def test_five_year_bands_when_they_suffice(login, investigator, study, site_a, coordinator_a):
    for age in (41, 42, 43):
        _enroll(site_a, coordinator_a, age)
    response = login(investigator).get(subjects_url(study))
    assert response["X-Dataset-K"] == "3"
    assert response["X-Dataset-Age-Banding"] == "5-year"
    assert {r["age_years"] for r in response.json()["results"]} == {"40-44"}


def test_exact_ages_when_every_group_is_large_enough(login, investigator, study, site_a, coordinator_a):
    for _ in range(3):
        _enroll(site_a, coordinator_a, 50)
    response = login(investigator).get(subjects_url(study))
    assert (response["X-Dataset-K"], response["X-Dataset-Age-Banding"]) == ("3", "years")
    assert {r["age_years"] for r in response.json()["results"]} == {"50"}

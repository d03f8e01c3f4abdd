from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors


@login_required
def dashboard(request):
    access = selectors.require_role(request.user)
    return render(request, "patients/dashboard.html", {"dashboard": selectors.dashboard(access)})

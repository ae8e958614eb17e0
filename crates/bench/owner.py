"""The owner of B's seeded keys: a plan, a developer, a workspace, a project and a sandbox
subscription, made through the API of a running server; prints their ids for `bench-seed`.

usage: owner.py <base url> <server log (for the first admin's password)>
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import portal  # noqa: E402

base, log = sys.argv[1:3]
admin = portal.staff(base, portal.admin_password(log))
plan = portal.simple_plan(admin)
dev = portal.developer(base, "keys@bench.example")
o = portal.onboard(dev, plan)
print(o["ws"], o["project"], o["sub"])

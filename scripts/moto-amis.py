"""Writes the machine-image list the sandbox's moto serves (moto reads it via MOTO_AMIS_PATH).

moto's own list has Amazon Linux and old Ubuntu images but none of Rocky Linux 9, Ubuntu 24.04
or the Deep Learning Base AMI that Prism's bundled templates use. This merges moto's bundled
images (including the current Amazon Linux images its SSM parameters point at, for every
region) with sandbox/extra-amis.json, which copies the real images' names and owners.

Usage: python moto-amis.py EXTRA_JSON OUTPUT_JSON   (run with the venv's python)
"""

import gzip
import json
import pathlib
import sys

import moto

root = pathlib.Path(moto.__file__).parent / "ec2" / "resources"


def load(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


images = {}
for image in load(root / "amis.json.gz"):
    images[image["ami_id"]] = image
for path in sorted((root / "latest_amis").glob("*.json.gz")):
    for image in load(path):
        images.setdefault(image["ami_id"], image)
for image in load(pathlib.Path(sys.argv[1])):
    images[image["ami_id"]] = image

with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(list(images.values()), out)
print(f"{len(images)} images written to {sys.argv[2]}", file=sys.stderr)

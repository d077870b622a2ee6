#!/bin/sh
# Canary data for the container lab (the native lab does the same in-process).
set -e
python3 /opt/lab/canary.py /out
python3 /opt/lab/inside.py wait '[{"name":"pacs","kind":"http","status":200,"url":"http://198.18.0.10:8042/system"},{"name":"secure","kind":"http","status":401,"url":"http://198.18.0.11:8042/system"}]' 60
python3 /opt/lab/inside.py orthanc-load http://198.18.0.10:8042 /out/pacs/*.dcm
python3 /opt/lab/inside.py --user radiologue --password Lab-Secure-7f3c9a-Orthanc \
    orthanc-load http://198.18.0.11:8042 /out/pacs-secure/*.dcm
python3 /opt/lab/inside.py wait '[{"name":"qrscp","kind":"tcp","host":"198.18.0.44","port":11112}]' 60
storescu -aec QRSCP 198.18.0.44 11112 /out/qrscp/*.dcm

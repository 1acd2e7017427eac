#!/usr/bin/env bash
# Start slurmctld if it is not running, and wait until `scontrol ping` reports it UP.
#
# `.ci/slurm-setup.sh` starts the controller with this script, and the Slurm backend tests run it
# to bring the controller back after they SIGKILL it mid-job. slurmctld recovers its saved job
# state from StateSaveLocation on start, so jobs queued or running before the kill are kept.
# No systemd here: the binary is started directly and daemonizes itself.
set -euo pipefail

ctld_up() { scontrol ping 2>/dev/null | grep -q "is UP"; }

if ctld_up; then
  echo "slurmctld: already up"
  exit 0
fi

install -d -o slurm -g slurm -m 755 /run/slurm /var/log/slurm /var/lib/slurm/slurmctld
echo "slurmctld: starting"
# Without -D, slurmctld forks into the background; -R is not passed, so jobs are recovered but
# node and partition state come from slurm.conf.
/usr/sbin/slurmctld
for _ in $(seq 60); do
  if ctld_up; then
    echo "slurmctld: up"
    exit 0
  fi
  sleep 0.5
done
echo "slurmctld: did not come up within 30 s; the end of /var/log/slurm/slurmctld.log:" >&2
tail -n 30 /var/log/slurm/slurmctld.log >&2 || true
exit 1

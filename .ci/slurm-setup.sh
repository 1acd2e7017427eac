#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, with accounting in MariaDB through slurmdbd,
# for the Slurm backend tests (tests/engines/compute_backends/test_backend_slurm.py).
#
# Installs Debian's Slurm (slurmctld, slurmd, slurmdbd, the clients) and munge, writes slurm.conf
# and slurmdbd.conf for this host, and starts munged, slurmdbd, slurmctld and slurmd as plain
# daemons (no systemd here). Idempotent: a second run changes nothing and starts only what is
# not running; a changed configuration restarts the daemons it concerns.
#
# Needs root. MariaDB on 127.0.0.1:3306 with root and an empty password (started or installed
# here if absent). Environment: SLURM_CLUSTER_NAME (default gaodi).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here="$(cd "$(dirname "$0")" && pwd)"
cluster="${SLURM_CLUSTER_NAME:-gaodi}"
etc=/etc/slurm
started_at=$SECONDS

step() { printf '==> slurm-setup: %s\n' "$*"; }
die() { printf 'slurm-setup: error: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root"

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every half second.
wait_for() {
  local limit=$1 what=$2
  shift 2
  for _ in $(seq $((limit * 2))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what: not ready after ${limit} s"
}

# write_if_changed PATH MODE OWNER < content: returns 0 when the file changed.
write_if_changed() {
  local path=$1 mode=$2 owner=$3 tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chmod "$mode" "$path"
    chown "$owner" "$path"
    return 1
  fi
  install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$path"
  rm -f "$tmp"
  return 0
}

# stop_daemon NAME PIDFILE: only ever stops the daemon this script started (by its pid file).
stop_daemon() {
  local name=$1 pidfile=$2 pid
  [[ -f $pidfile ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    step "restarting $name (configuration changed)"
    kill "$pid"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$pidfile"
}

running() { pgrep -x "$1" >/dev/null; }

# --- packages ---------------------------------------------------------------------------------
packages=()
for cmd_pkg in slurmctld:slurmctld slurmd:slurmd slurmdbd:slurmdbd sbatch:slurm-client \
  munged:munge mysql:mariadb-client; do
  command -v "${cmd_pkg%%:*}" >/dev/null || [[ -x /usr/sbin/${cmd_pkg%%:*} ]] || packages+=("${cmd_pkg##*:}")
done
mysql_ping() { mysqladmin -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 ping; }
if ! mysql_ping >/dev/null 2>&1 && [[ ! -x /usr/sbin/mariadbd ]]; then packages+=(mariadb-server); fi
if ((${#packages[@]})); then
  step "apt-get install ${packages[*]}"
  apt-get update -qq
  # slurm-wlm is the metapackage of these (plus plugins the tests do not need).
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
  step "packages already installed"
fi

# --- MariaDB ----------------------------------------------------------------------------------
if ! mysql_ping >/dev/null 2>&1; then
  step "starting MariaDB"
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for 60 "MariaDB" mysql_ping
fi

# --- munge ------------------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
  step "creating the munge key"
  install -d -o munge -g munge -m 700 /etc/munge
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile=/etc/munge/munge.key --force
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
munge_ok() { munge -n | unmunge; }
if ! munge_ok >/dev/null 2>&1; then
  step "starting munged"
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged
  wait_for 15 "munged" munge_ok
fi

# --- configuration ----------------------------------------------------------------------------
host="$(hostname -s)"
cpus="$(nproc)"
mem_total="$(free -m | awk '/^Mem:/ {print $2}')"
# Leave a tenth for the system: slurmd drains a node that reports less than RealMemory.
real_memory=$((mem_total * 9 / 10))
gpus=0
for dev in /dev/nvidia[0-9]*; do [[ -e $dev ]] && gpus=$((gpus + 1)); done

install -d -o slurm -g slurm -m 755 /run/slurm /var/log/slurm /var/lib/slurm \
  /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
install -d -m 755 "$etc"

# The database password: kept from an earlier run, else made here.
db_pass=""
if [[ -f $etc/slurmdbd.conf ]]; then
  db_pass="$(sed -n 's/^StoragePass=//p' "$etc/slurmdbd.conf")"
fi
[[ -n $db_pass ]] || db_pass="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"

step "MariaDB: database slurm_acct_db and user slurm"
mysql -h 127.0.0.1 -P 3306 -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_pass';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$db_pass';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$db_pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL

dbd_changed=0
if write_if_changed "$etc/slurmdbd.conf" 600 slurm:slurm <<CONF; then dbd_changed=1; fi
# Written by .ci/slurm-setup.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
PidFile=/run/slurm/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=$db_pass
StorageLoc=slurm_acct_db
CONF

gres_node=""
gres_types=""
if ((gpus > 0)); then
  gres_node=" Gres=gpu:$gpus"
  gres_types="GresTypes=gpu"
  write_if_changed "$etc/gres.conf" 644 root:root <<CONF || true
# Written by .ci/slurm-setup.sh
Name=gpu File=/dev/nvidia[0-$((gpus - 1))]
CONF
fi

conf_changed=0
if write_if_changed "$etc/slurm.conf" 644 root:root <<CONF; then conf_changed=1; fi
# Written by .ci/slurm-setup.sh: a single-node cluster on $host.
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
# No cgroups in this container: track processes through /proc and bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
# Short grace between SIGTERM and SIGKILL for cancelled and timed-out jobs.
KillWait=5
$gres_types
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_memory$gres_node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

if ((dbd_changed)); then stop_daemon slurmdbd /run/slurm/slurmdbd.pid; fi
if ((conf_changed)); then
  stop_daemon slurmd /run/slurm/slurmd.pid
  stop_daemon slurmctld /run/slurm/slurmctld.pid
fi

# --- daemons ----------------------------------------------------------------------------------
dbd_up() { sacctmgr -n -P list cluster format=cluster; }
if ! running slurmdbd; then
  step "starting slurmdbd"
  /usr/sbin/slurmdbd
fi
wait_for 60 "slurmdbd" dbd_up

if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$cluster"; then
  step "registering cluster $cluster in accounting"
  sacctmgr -i add cluster "$cluster" >/dev/null
fi

"$here/slurm-restart-ctld.sh"

if ! running slurmd; then
  step "starting slurmd"
  /usr/sbin/slurmd
fi

node_state() { sinfo -h -n "$host" -o '%t' 2>/dev/null | head -1; }
node_idle() { [[ $(node_state) =~ ^(idle|mix|alloc)$ ]]; }
for _ in $(seq 60); do
  node_idle && break
  # A node left down or drained by an earlier unclean stop comes back here.
  if [[ $(node_state) =~ ^(down|drain|drng|fail)\*?$ ]]; then
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  fi
  sleep 0.5
done
node_idle || die "node $host is '$(node_state)', not idle; see /var/log/slurm/slurmd.log"

sacct_ok() { sacct -n -X -S now-1minutes -o JobID; }
wait_for 30 "sacct" sacct_ok

step "ready in $((SECONDS - started_at)) s: cluster $cluster, node $host ($cpus CPUs, ${real_memory} MB, $gpus GPUs)"
sinfo

#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for the sweep tests (the recipe measured in
# shared/SCALE.md): slurmctld + slurmd from Debian's slurm-wlm, authenticated by munge.
#
#   tests/slurm/cluster.sh start DIR   # writes DIR/slurm.conf, starts the daemons, waits for the node
#   tests/slurm/cluster.sh stop DIR    # stops the daemons it started (by their pid files)
#
# Every client command (sbatch, squeue, scancel, submitit) needs SLURM_CONF=DIR/slurm.conf.
# Needs root (SlurmUser=root) and the packages: apt-get install slurm-wlm munge.
# Exit status 3: this machine cannot run it (the reason on stderr). (The CPU count is getconf's:
# nproc honours OMP_NUM_THREADS, which CI sets to 1.)
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop DIR}
D=$(realpath -m "${2:?usage: cluster.sh start|stop DIR}")

stop() {
  for f in "$D/slurmd.pid" "$D/slurmctld.pid" "$D/munged.pid"; do
    if [ -s "$f" ]; then
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$f"
    fi
  done
}

case "$cmd" in
start)
  for b in slurmctld slurmd munged sbatch sinfo; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || { echo "no $b: apt-get install slurm-wlm munge" >&2; exit 3; }
  done
  [ "$(id -u)" = 0 ] || { echo "needs root (SlurmUser=root)" >&2; exit 3; }
  export PATH="$PATH:/usr/sbin"
  H=$(hostname -s)
  mkdir -p "$D/state" "$D/spool" "$D/log"
  cat > "$D/slurm.conf" <<CONF
ClusterName=pfcda
SlurmctldHost=$H
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/ctld.log
SlurmdLogFile=$D/log/d.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
KillWait=5
NodeName=$H CPUs=$(getconf _NPROCESSORS_ONLN) RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
  # munge: reuse a running daemon, else start one (and stop it with the cluster)
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
    [ -f /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chmod 400 /etc/munge/munge.key; }
    chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
    su -s /bin/sh munge -c "/usr/sbin/munged --force"
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$D/munged.pid" 2>/dev/null || true
  fi
  export SLURM_CONF="$D/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  for _ in $(seq 150); do
    if sinfo -h -o %T 2>/dev/null | grep -q idle; then echo "SLURM_CONF=$SLURM_CONF"; exit 0; fi
    sleep 0.2
  done
  echo "the node did not come up (logs in $D/log)" >&2
  stop
  exit 3
  ;;
stop) stop ;;
*) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac

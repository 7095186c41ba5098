#!/usr/bin/env bash
# A real, one-node SLURM on this machine, for `make cluster-test`.
#
#   scripts/slurm-one-node.sh install   Debian's slurmctld, slurmd and munge (apt-get; needs root)
#   scripts/slurm-one-node.sh start     write the configuration, start munged, slurmctld, slurmd;
#                                       wait until the node is idle (fails, with the daemons' logs,
#                                       if one does not come up)
#   scripts/slurm-one-node.sh stop      stop the three daemons started here; nothing is left running
#   scripts/slurm-one-node.sh env       the variables that point sbatch/squeue at this cluster
#
# Everything lives under $SAE_SLURM_DIR (default /tmp/sae-slurm): configuration, state, logs and
# the job-completion log (jobcomp/filetxt), which is SLURM's own record of each job's end state
# when, as here, no accounting database is set up. No cgroups (containers rarely have them):
# processes are tracked by process group, tasks are not confined.
set -euo pipefail

DIR=${SAE_SLURM_DIR:-/tmp/sae-slurm}
CONF=$DIR/slurm.conf
NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
PARTITION=${SAE_SLURM_PARTITION:-debug}

log() { echo "slurm-one-node: $*" >&2; }
running() { [ -s "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        log "slurmctld, slurmd and munge are installed"
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        log "installing SLURM needs root (apt-get install slurmctld slurmd munge)"; exit 1
    fi
    log "installing slurmctld, slurmd, munge (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd munge >/dev/null
}

write_conf() {
    mkdir -p "$DIR"/{state,spool,log}
    cat > "$CONF" <<EOF
ClusterName=sae-one-node
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=${SAE_SLURMCTLD_PORT:-16817}
SlurmdPort=${SAE_SLURMD_PORT:-16818}
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=5
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    install
    write_conf
    export SLURM_CONF=$CONF
    if ! pgrep -x munged >/dev/null; then
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge
        [ -s /etc/munge/munge.key ] || { log "no /etc/munge/munge.key: reinstall munge"; exit 1; }
        runuser -u munge -- munged && touch "$DIR/munged.started-here"
    fi
    munge -n | unmunge >/dev/null || { log "munged does not answer (check /var/log/munge/munged.log)"; exit 1; }
    for d in slurmctld slurmd; do
        if running "$d"; then
            log "$d is already running (pid $(cat "$DIR/$d.pid")): kept"
        else
            "$d" -f "$CONF" || { log "$d failed to start; its log follows"; tail -n 20 "$DIR/log/$d.log" >&2 || true
                                 stop; exit 1; }
        fi
    done
    for _ in $(seq 60); do
        state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
        case "$state" in
            idle*) log "node $NODE is $state, partition $PARTITION up (SLURM_CONF=$CONF)"; return 0 ;;
        esac
        sleep 1
    done
    log "the node did not come up (last state: '${state:-none}'); daemon logs follow"
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    stop
    exit 1
}

stop() {
    for d in slurmd slurmctld; do
        pidfile=$DIR/$d.pid
        if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            kill "$(cat "$pidfile")"
            # slurmd waits for its job steps to wind down: allow it half a minute
            for _ in $(seq 60); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.5; done
        fi
        rm -f "$pidfile"
    done
    # jobs' steps die with slurmd; a stray slurmstepd from a killed job is ended too
    pkill -x slurmstepd 2>/dev/null || true
    if [ -e "$DIR/munged.started-here" ]; then
        pkill -x munged 2>/dev/null || true
        rm -f "$DIR/munged.started-here"
    fi
    for d in slurmd slurmctld slurmstepd; do
        for _ in $(seq 20); do pgrep -x "$d" >/dev/null || break; sleep 0.5; done
        if pgrep -x "$d" >/dev/null; then log "$d is still running ($(pgrep -x "$d" | tr '\n' ' '))"; exit 1; fi
    done
    log "stopped"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac

package dev.backup.placement;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Load-aware placement: a server's cost grows with the share of its disk in use (and the
 * bytes it already stores), with its transfers in progress and with the latency of its
 * reports. The R cheapest servers with room for the file win, never one server twice.
 */
public final class LoadAwarePlacement implements PlacementPolicy {
  /** Cost of one transfer in progress, in "fraction of the disk used" units. */
  static final double TRANSFER_WEIGHT = 0.05;
  /** Cost of one millisecond of report latency. */
  static final double LATENCY_WEIGHT = 0.01;
  /** Room kept free on every disk beyond the file itself. */
  public static final long HEADROOM = 16L * 1024 * 1024;

  private List<ServerLoad> servers = List.of();

  @Override
  public void onClusterChanged(Collection<ServerLoad> servers) {
    this.servers = List.copyOf(servers);
  }

  @Override
  public int liveCount() {
    return (int) servers.stream().filter(ServerLoad::alive).count();
  }

  @Override
  public List<ServerLoad> choose(int replicas, long size, Set<Integer> exclude) {
    if (replicas < 1) {
      throw new BackupException(ErrorCode.USAGE, "replicas must be at least 1, not " + replicas);
    }
    List<ServerLoad> candidates = new ArrayList<>();
    int live = 0;
    for (ServerLoad s : servers) {
      if (!s.alive()) {
        continue;
      }
      live++;
      if (exclude.contains(s.id())) {
        continue;
      }
      // Subtracted, not added: a size near 2^63 must not wrap around into "fits".
      if (size > s.freeBytes() - HEADROOM) {
        continue;
      }
      candidates.add(s);
    }
    if (candidates.size() < replicas) {
      String why = live < replicas
          ? replicas + " copies asked but only " + live + " server" + (live == 1 ? " is" : "s are") + " alive"
          : replicas + " copies asked but only " + candidates.size() + " live server"
              + (candidates.size() == 1 ? " has" : "s have") + " room for " + size + " bytes";
      throw new BackupException(ErrorCode.NOT_ENOUGH_SERVERS, why);
    }
    candidates.sort(Comparator.comparingDouble(LoadAwarePlacement::cost)
        .thenComparingLong(ServerLoad::bytes)
        .thenComparingInt(ServerLoad::id));
    return List.copyOf(candidates.subList(0, replicas));
  }

  static double cost(ServerLoad s) {
    long total = s.bytes() + s.freeBytes();
    double used = total <= 0 ? 1.0 : (double) s.bytes() / total;
    return used + TRANSFER_WEIGHT * s.transfers() + LATENCY_WEIGHT * (s.latencyMicros() / 1000.0);
  }
}

package dev.backup.placement;

import java.util.Collection;
import java.util.List;
import java.util.Set;

/**
 * Chooses the servers that hold a file's copies. Fed by membership and load reports,
 * asked for R distinct servers. Implementations are pure and not thread-safe.
 */
public interface PlacementPolicy {
  /** The current view of every known server (dead ones included, marked not alive). */
  void onClusterChanged(Collection<ServerLoad> servers);

  /**
   * R distinct live servers, the best first (the primary of a chain), none of them in
   * {@code exclude}.
   *
   * @throws dev.backup.protocol.BackupException NOT_ENOUGH_SERVERS when fewer than R qualify
   */
  List<ServerLoad> choose(int replicas, long size, Set<Integer> exclude);

  /** How many live servers there are. */
  int liveCount();
}

package dev.backup.cluster;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.core.spi.cluster.RegistrationInfo;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An element's event-bus consumers, kept listed in the cluster.
 *
 * <p>The clustered event bus finds a consumer through the cluster's shared registry of
 * subscriptions (a Hazelcast multimap). That registry can lose an element's entries while
 * the element is fine, and nothing in Vert.x lists them again until the next member leaves:
 * each member, when it sees another leave, removes that member's entries one by one; a
 * member hung past the failure detector sees everyone leave when it resumes, and the
 * removals it has not finished when Hazelcast merges it back run against the merged
 * cluster and delete live entries. Seen in the container test: a returning server's "copy
 * stored" reports met "no handlers" for minutes while the manager was serving (its other
 * addresses still worked). So every few seconds each element checks that the registry
 * still names it for each of its addresses, and where it does not, registers that consumer
 * again (the new one first, then the old one is removed, so the address is never without a
 * handler here).
 *
 * <p>The same races leave entries of members that are gone (a crashed server's handlers,
 * still listed after it restarted as a new member): a request routed to one waits for its
 * timeout. So one element (the manager) also sweeps the registry: every few seconds, entries
 * of nodes that are not members are removed ({@link #sweepingStrangers}).
 */
public final class Subscriptions {
  private static final Logger log = LoggerFactory.getLogger(Subscriptions.class);
  public static final long CHECK_MILLIS = 5_000;

  private final Vertx vertx;
  private final ClusterManager cluster;
  private final String who;
  private final List<Entry<?>> entries = new ArrayList<>();
  private long timer = -1;
  private boolean checking;
  private boolean sweep;

  private static final class Entry<T> {
    final String address;
    final Handler<Message<T>> handler;
    MessageConsumer<T> consumer;

    Entry(String address, Handler<Message<T>> handler) {
      this.address = address;
      this.handler = handler;
    }
  }

  /** {@code who} names the element in the log ("manager", "server 2"). */
  public Subscriptions(Vertx vertx, String who) {
    this.vertx = vertx;
    this.who = who;
    this.cluster = vertx.isClustered() ? ((VertxInternal) vertx).clusterManager() : null;
  }

  /** Registers {@code handler} at {@code address}; call from the element's context. */
  public <T> MessageConsumer<T> consumer(String address, Handler<Message<T>> handler) {
    Entry<T> e = new Entry<>(address, handler);
    e.consumer = vertx.eventBus().consumer(address, handler);
    entries.add(e);
    if (cluster != null && timer < 0) {
      // (One timer per element; the consumers' checks and the sweep share it.)
      timer = vertx.setPeriodic(CHECK_MILLIS, t -> check());
    }
    return e.consumer;
  }

  /** Also removes, at each check, the registry's entries of nodes that are not members. */
  public Subscriptions sweepingStrangers() {
    sweep = true;
    return this;
  }

  /** Checks every address once now (also done every {@link #CHECK_MILLIS}). */
  public void check() {
    if (cluster == null || checking) {
      return;
    }
    checking = true;
    List<io.vertx.core.Future<?>> all = new ArrayList<>();
    if (sweep) {
      all.add(sweep());
    }
    for (Entry<?> e : entries) {
      all.add(checkOne(e));
    }
    io.vertx.core.Future.join(all).onComplete(x -> checking = false);
  }

  private <T> io.vertx.core.Future<?> checkOne(Entry<T> e) {
    MessageConsumer<T> current = e.consumer;
    if (!current.isRegistered() || !current.completion().succeeded()) {
      return io.vertx.core.Future.succeededFuture(); // still being registered
    }
    io.vertx.core.Promise<List<RegistrationInfo>> listed = io.vertx.core.Promise.promise();
    cluster.getRegistrations(e.address, listed);
    String me = cluster.getNodeId();
    return listed.future().compose(list -> {
      if (list.stream().anyMatch(r -> me.equals(r.nodeId())) || e.consumer != current) {
        return io.vertx.core.Future.succeededFuture();
      }
      log.warn("{}: the cluster no longer lists this element's handler for {}; registering it again",
          who, e.address);
      MessageConsumer<T> again = vertx.eventBus().consumer(e.address, e.handler);
      e.consumer = again;
      return again.completion().compose(v -> current.unregister());
    }).onFailure(err -> log.debug("{}: could not check the subscription for {}: {}", who, e.address, err.toString()));
  }

  /**
   * Removes the registry's entries of nodes that are not cluster members. The entries are
   * read before the members: a node listed in an entry was a member when it registered,
   * so one missing from the later member list has left (a node that joins meanwhile is in
   * it).
   */
  io.vertx.core.Future<Integer> sweep() {
    if (!(cluster instanceof io.vertx.spi.cluster.hazelcast.HazelcastClusterManager hz)) {
      return io.vertx.core.Future.succeededFuture(0);
    }
    return vertx.executeBlocking(() -> {
      com.hazelcast.multimap.MultiMap<String, io.vertx.spi.cluster.hazelcast.impl.HazelcastRegistrationInfo> map =
          hz.getHazelcastInstance().getMultiMap(REGISTRY);
      var entries = new ArrayList<>(map.entrySet());
      java.util.Set<String> members = new java.util.HashSet<>(hz.getNodes());
      int removed = 0;
      for (var e : entries) {
        String node = e.getValue().unwrap().nodeId();
        if (!members.contains(node) && map.remove(e.getKey(), e.getValue())) {
          log.warn("{}: removed the cluster's stale handler for {} on node {}, no longer a member", who, e.getKey(),
              node);
          removed++;
        }
      }
      return removed;
    }, false).onFailure(err -> log.debug("{}: could not sweep the registry: {}", who, err.toString()));
  }

  /** The Hazelcast multimap in which the clustered event bus keeps its subscriptions. */
  static final String REGISTRY = "__vertx.subs";

  /** Stops the checks (the consumers go with the element's undeployment). */
  public void close() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
  }
}

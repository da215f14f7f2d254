package dev.backup.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.core.LifecycleEvent;
import dev.backup.config.Role;
import io.vertx.core.Completable;
import io.vertx.core.Vertx;
import io.vertx.core.spi.cluster.NodeInfo;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.core.spi.cluster.RegistrationListener;
import io.vertx.core.spi.cluster.RegistrationUpdateEvent;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hazelcast clustering in which the manager's and the servers' event-bus addresses are
 * routed by cluster membership, not through the cluster's shared registry of
 * subscriptions.
 *
 * <p>Every address of this system names its one element: {@code backup.manager.*} the
 * manager, {@code backup.server.N.*} server N (see {@link Addresses}). So the node that
 * handles it follows from the member list each member holds locally (the members carry
 * their role and id as attributes): no lookup in a Hazelcast multimap, whose entries
 * were seen lost after a hung member merged back and whose partitions were seen stuck
 * "migrating" for minutes, blocking every registration and lookup. Where two members
 * claim one id (a crashed server not yet removed and its restarted self), the youngest
 * member is the one that answers. Any other address still goes through the registry.
 *
 * <p>The event bus caches where an address lives; when the members change (joined, left,
 * merged back) the cached routes are corrected at once, and checked every second besides.
 * A node's event-bus address is looked up once and kept: a node id names one process.
 */
public class RoutedClusterManager extends HazelcastClusterManager {
  private static final Logger log = LoggerFactory.getLogger(RoutedClusterManager.class);
  /** The member attribute in which vertx-hazelcast keeps the member's event-bus node id. */
  static final String NODE_ID_ATTRIBUTE = "__vertx.nodeId";
  static final long CHECK_MILLIS = 1000;

  private final Map<String, List<RegistrationInfo>> routed = new ConcurrentHashMap<>();
  private final Map<String, NodeInfo> nodeInfos = new ConcurrentHashMap<>();
  private volatile RegistrationListener listener;
  private volatile Vertx vertx;
  private UUID membershipListener;
  private UUID lifecycleListener;
  private long timer = -1;
  private final Object refreshing = new Object();

  public RoutedClusterManager(Config config) {
    super(config);
  }

  /** The element an address belongs to: role and id, or null for an address of no element. */
  record Route(String role, int id) {
  }

  static Route route(String address) {
    if (address.startsWith(Addresses.MANAGER_PREFIX)) {
      return new Route(Role.manager.name(), 0);
    }
    if (address.startsWith(Addresses.SERVER_PREFIX)) {
      int start = Addresses.SERVER_PREFIX.length();
      int end = address.indexOf('.', start);
      if (end > 0) {
        try {
          return new Route(Role.server.name(), Integer.parseInt(address.substring(start, end)));
        } catch (NumberFormatException e) {
          return null;
        }
      }
    }
    return null;
  }

  /** Whether membership, not the registry, says where this registration's address lives. */
  private static boolean byMembership(String address, RegistrationInfo info) {
    return route(address) != null && !info.localOnly();
  }

  @Override
  public void init(Vertx vertx) {
    this.vertx = vertx;
    super.init(vertx);
  }

  @Override
  public void registrationListener(RegistrationListener listener) {
    this.listener = listener;
    // The registry's own updates are passed on for other addresses only: for an element's
    // address an entry left in the registry (or a local-only consumer) must not move the
    // route that membership gives.
    super.registrationListener(new RegistrationListener() {
      @Override
      public void registrationsUpdated(RegistrationUpdateEvent event) {
        if (route(event.address()) == null) {
          listener.registrationsUpdated(event);
        }
      }

      @Override
      public void registrationsLost() {
        listener.registrationsLost();
      }

      @Override
      public boolean wantsUpdatesFor(String address) {
        return route(address) == null && listener.wantsUpdatesFor(address);
      }
    });
  }

  @Override
  public void join(Completable<Void> promise) {
    super.join((v, err) -> {
      if (err != null) {
        promise.fail(err);
        return;
      }
      try {
        var hz = getHazelcastInstance();
        membershipListener = hz.getCluster().addMembershipListener(new MembershipListener() {
          @Override
          public void memberAdded(MembershipEvent e) {
            refresh();
          }

          @Override
          public void memberRemoved(MembershipEvent e) {
            refresh();
          }
        });
        lifecycleListener = hz.getLifecycleService().addLifecycleListener(e -> {
          if (e.getState() == LifecycleEvent.LifecycleState.MERGED) {
            refresh();
          }
        });
        timer = vertx.setPeriodic(CHECK_MILLIS, t -> refresh());
      } catch (RuntimeException e) {
        promise.fail(e);
        return;
      }
      promise.succeed();
    });
  }

  @Override
  public void leave(Completable<Void> promise) {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    try {
      var hz = getHazelcastInstance();
      if (hz != null && hz.getLifecycleService().isRunning()) {
        if (membershipListener != null) {
          hz.getCluster().removeMembershipListener(membershipListener);
        }
        if (lifecycleListener != null) {
          hz.getLifecycleService().removeLifecycleListener(lifecycleListener);
        }
      }
    } catch (RuntimeException e) {
      log.debug("cluster: removing listeners at leave: {}", e.toString());
    }
    super.leave(promise);
  }

  @Override
  public void getRegistrations(String address, Completable<List<RegistrationInfo>> promise) {
    Route r = route(address);
    if (r == null) {
      super.getRegistrations(address, promise);
      return;
    }
    List<RegistrationInfo> now = registrations(r);
    routed.put(address, now);
    promise.succeed(now);
  }

  @Override
  public void addRegistration(String address, RegistrationInfo info, Completable<Void> promise) {
    if (byMembership(address, info)) {
      promise.succeed();
    } else {
      super.addRegistration(address, info, promise);
    }
  }

  @Override
  public void removeRegistration(String address, RegistrationInfo info, Completable<Void> promise) {
    if (byMembership(address, info)) {
      promise.succeed();
    } else {
      super.removeRegistration(address, info, promise);
    }
  }

  @Override
  public void getNodeInfo(String nodeId, Completable<NodeInfo> promise) {
    NodeInfo known = nodeInfos.get(nodeId);
    if (known != null) {
      promise.succeed(known);
      return;
    }
    super.getNodeInfo(nodeId, (info, err) -> {
      if (err == null && info != null) {
        nodeInfos.put(nodeId, info);
      }
      promise.complete(info, err);
    });
  }

  /** The node that handles an element's addresses now: the youngest member with its role and id. */
  private List<RegistrationInfo> registrations(Route r) {
    var hz = getHazelcastInstance();
    if (hz == null || !hz.getLifecycleService().isRunning()) {
      return List.of();
    }
    String role = r.role();
    String id = String.valueOf(r.id());
    String node = null;
    for (Member m : hz.getCluster().getMembers()) { // oldest first
      if (role.equals(m.getAttribute(Clustering.ATTR_ROLE))
          && (Role.manager.name().equals(role) || id.equals(m.getAttribute(Clustering.ATTR_ID)))) {
        node = m.getAttribute(NODE_ID_ATTRIBUTE);
      }
    }
    return node == null ? List.of() : List.of(new RegistrationInfo(node, 0, false));
  }

  /**
   * Tells the event bus where each address it has asked about lives now, when that changed.
   * (Its own lock: vertx-hazelcast's membership handlers hold this object's monitor while
   * they update Hazelcast maps, which can take seconds, and this runs on an event loop.)
   * Also called by an element that learns of a new process for an element (the manager,
   * from a restarted server's first report) before the membership event is handled here.
   */
  public void refresh() {
    RegistrationListener l = listener;
    if (l == null) {
      return;
    }
    synchronized (refreshing) {
      refreshRoutes(l);
    }
  }

  private void refreshRoutes(RegistrationListener l) {
    try {
      for (Map.Entry<String, List<RegistrationInfo>> e : routed.entrySet()) {
        String address = e.getKey();
        List<RegistrationInfo> now = registrations(Objects.requireNonNull(route(address)));
        if (!now.equals(e.getValue())) {
          routed.put(address, now);
          if (l.wantsUpdatesFor(address)) {
            log.debug("cluster: {} now at {}", address, now);
            l.registrationsUpdated(new RegistrationUpdateEvent(address, now));
          }
        }
      }
    } catch (RuntimeException e) {
      log.debug("cluster: cannot refresh routes: {}", e.toString());
    }
  }
}

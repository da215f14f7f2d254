package dev.backup.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.backup.TestSupport;
import dev.backup.config.Config;
import dev.backup.config.Role;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Real Hazelcast members on loopback: a manager and server 2, then a second member that
 * also says it is server 2 (a restarted server whose crashed self is not yet removed).
 * Requests reach an element's addresses through membership alone: with the cluster's
 * registry of subscriptions emptied, with the youngest of two claimants answering from
 * the moment it joins, and failing at once ("no handlers") when no member has that id.
 */
class RoutedClusterManagerTest extends RealMembers {
  @Test
  void addressesFollowMembershipNotTheRegistry() throws Exception {
    String name = "routed-test-" + UUID.randomUUID();
    int[] ports = {TestSupport.freePort(), TestSupport.freePort(), TestSupport.freePort()};
    List<String> members = List.of("127.0.0.1:" + ports[0]);
    Clustering.Clustered manager = start(member(Role.manager, 0, ports[0], members, name));
    Clustering.Clustered first = start(member(Role.server, 2, ports[1], members, name));
    await().atMost(Duration.ofSeconds(20)).until(() -> manager.hazelcast().getCluster().getMembers().size() == 2);

    first.vertx().eventBus().consumer(Addresses.verify(2), m -> m.reply("first")).completion().await();
    manager.vertx().eventBus().consumer(Addresses.LOAD, m -> m.reply("manager")).completion().await();
    // Nothing of either element is in the registry, and nothing needs to be.
    var registry = manager.hazelcast().getMultiMap("__vertx.subs");
    assertThat(registry.get(Addresses.verify(2))).isEmpty();
    assertThat(registry.get(Addresses.LOAD)).isEmpty();
    assertThat(ask(manager, Addresses.verify(2))).isEqualTo("first");
    assertThat(ask(first, Addresses.LOAD)).isEqualTo("manager");
    registry.clear();
    assertThat(ask(manager, Addresses.verify(2))).isEqualTo("first");
    // An entry left in the registry for an element's address (a node long gone) moves nothing.
    @SuppressWarnings("unchecked")
    var typed = (com.hazelcast.multimap.MultiMap<String, Object>) (Object) registry;
    typed.put(Addresses.verify(2), new io.vertx.spi.cluster.hazelcast.impl.HazelcastRegistrationInfo(
        new io.vertx.core.spi.cluster.RegistrationInfo("a-node-that-left", 1, false)));
    for (int i = 0; i < 10; i++) {
      assertThat(ask(manager, Addresses.verify(2))).isEqualTo("first");
      Thread.sleep(200);
    }

    // An id no member has: the request fails at once, it does not wait for its timeout.
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> ask(manager, Addresses.verify(3)))
        .isInstanceOfSatisfying(ReplyException.class,
            e -> assertThat(e.failureType()).isEqualTo(ReplyFailure.NO_HANDLERS));
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));

    // Server 2 again, as a new member: the manager's cached route moves to it as it joins.
    Clustering.Clustered second = start(member(Role.server, 2, ports[2], members, name));
    second.vertx().eventBus().consumer(Addresses.verify(2), m -> m.reply("second")).completion().await();
    await().atMost(Duration.ofSeconds(20)).until(() -> manager.hazelcast().getCluster().getMembers().size() == 3);
    // (Its first request may wait for a lookup while the new member's partitions migrate.)
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
        .until(() -> "second".equals(ask(manager, Addresses.verify(2))));
    for (int i = 0; i < 6; i++) {
      assertThat(ask(manager, Addresses.verify(2))).as("only the youngest answers").isEqualTo("second");
    }

    // The second leaves: its address is the first's again.
    second.vertx().close().await();
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
        .until(() -> "first".equals(ask(manager, Addresses.verify(2))));
  }

  @Test
  void routesAreReadFromAddresses() {
    assertThat(RoutedClusterManager.route(Addresses.COMMITTED)).isEqualTo(new RoutedClusterManager.Route("manager", 0));
    assertThat(RoutedClusterManager.route(Addresses.copy(12))).isEqualTo(new RoutedClusterManager.Route("server", 12));
    assertThat(RoutedClusterManager.route("backup.server.x.copy")).isNull();
    assertThat(RoutedClusterManager.route("backup.server.")).isNull();
    assertThat(RoutedClusterManager.route("other.address")).isNull();
  }

  private static String ask(Clustering.Clustered from, String address) {
    return (String) from.vertx().eventBus().request(address, "hi", new DeliveryOptions().setSendTimeout(4000))
        .await().body();
  }

  private Config member(Role role, int id, int clusterPort, List<String> members, String name) {
    return TestSupport.member(role, id, clusterPort, members, name, TestSupport.SECRET, dir.resolve("m" + clusterPort));
  }
}

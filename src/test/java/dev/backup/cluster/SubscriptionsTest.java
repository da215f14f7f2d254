package dev.backup.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.backup.TestSupport;
import dev.backup.config.Config;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Two real Hazelcast members on loopback. The cluster's registry of event-bus subscriptions
 * loses an element's entries (as it did after a hung server was merged back): a consumer
 * kept by {@link Subscriptions} is listed again within seconds and answers; a plain
 * consumer, lost the same way, stays unreachable. And an entry of a node that left is
 * swept away.
 */
class SubscriptionsTest extends RealMembers {
  @Test
  void aLostSubscriptionIsListedAgainAndAStaleOneIsSwept() {
    String name = "subs-test-" + UUID.randomUUID();
    int[] ports = {TestSupport.freePort(), TestSupport.freePort()};
    List<String> members = List.of("127.0.0.1:" + ports[0]);
    Clustering.Clustered a = start(member(1, ports[0], members, name));
    Clustering.Clustered b = start(member(2, ports[1], members, name));
    await().atMost(Duration.ofSeconds(20)).until(() -> a.hazelcast().getCluster().getMembers().size() == 2
        && b.hazelcast().getCluster().getMembers().size() == 2);

    Subscriptions kept = new Subscriptions(a.vertx(), "member 1");
    kept.consumer("subs-test.kept", m -> m.reply("kept")).completion().await();
    a.vertx().eventBus().consumer("subs-test.plain", m -> m.reply("plain")).completion().await();
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() ->
        "kept".equals(b.vertx().eventBus().request("subs-test.kept", "hi").await().body())
            && "plain".equals(b.vertx().eventBus().request("subs-test.plain", "hi").await().body()));

    // The registry loses member 1's entries for both addresses.
    var registry = b.hazelcast().getMultiMap("__vertx.subs");
    registry.remove("subs-test.kept");
    registry.remove("subs-test.plain");
    assertThat(registry.get("subs-test.kept")).isEmpty();

    // The kept one is found again (within a check period or two) and answers...
    await().atMost(Duration.ofMillis(3 * Subscriptions.CHECK_MILLIS)).pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(() -> "kept".equals(b.vertx().eventBus().request("subs-test.kept", "hi").await().body()));
    // ...listed once (the replaced consumer was removed), while the plain one stays lost.
    await().atMost(Duration.ofSeconds(5)).until(() -> registry.get("subs-test.kept").size() == 1);
    assertThatThrownBy(() -> b.vertx().eventBus().request("subs-test.plain", "hi").await())
        .isInstanceOfSatisfying(ReplyException.class,
            e -> assertThat(e.failureType()).isEqualTo(ReplyFailure.NO_HANDLERS));
    // Requests from the member itself keep working through the change.
    assertThat(a.vertx().eventBus().request("subs-test.kept", "hi").await().body()).isEqualTo("kept");
    kept.close();

    // The registry keeps an entry of a node that is gone (a crashed member's handler): half
    // the requests to that address would go nowhere. The sweeping element removes it and
    // leaves the live entries alone.
    Subscriptions sweeper = new Subscriptions(a.vertx(), "member 1").sweepingStrangers();
    sweeper.consumer("subs-test.swept", m -> m.reply("swept")).completion().await();
    @SuppressWarnings("unchecked")
    var typed = (com.hazelcast.multimap.MultiMap<String, Object>) (Object) registry;
    typed.put("subs-test.swept", new io.vertx.spi.cluster.hazelcast.impl.HazelcastRegistrationInfo(
        new io.vertx.core.spi.cluster.RegistrationInfo("a-node-that-left", 1, false)));
    assertThat(registry.get("subs-test.swept")).hasSize(2);
    await().atMost(Duration.ofMillis(3 * Subscriptions.CHECK_MILLIS)).pollInterval(Duration.ofMillis(200))
        .until(() -> registry.get("subs-test.swept").size() == 1);
    assertThat(registry.get("subs-test.kept")).as("live entries stay").hasSize(1);
    for (int i = 0; i < 4; i++) {
      assertThat(b.vertx().eventBus().request("subs-test.swept", "hi").await().body()).isEqualTo("swept");
    }
    sweeper.close();
  }

  private Config member(int id, int clusterPort, List<String> members, String name) {
    return TestSupport.member(id, clusterPort, members, name, TestSupport.SECRET, dir.resolve("m" + id));
  }
}

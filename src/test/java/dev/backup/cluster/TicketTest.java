package dev.backup.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

class TicketTest {
  static final String SECRET = "s3cret";
  static final List<Ticket.Hop> CHAIN = List.of(new Ticket.Hop(2, "127.0.0.1", 7002), new Ticket.Hop(4, "127.0.0.1", 7004));

  private static Ticket ticket(long expires) {
    return Ticket.sign(SECRET, "t-1", "a/b.txt", 3, 100, CHAIN, expires);
  }

  @Test
  void validTicketPassesForEachHopOfItsChain() {
    Ticket t = ticket(System.currentTimeMillis() + 60_000);
    assertThatCode(() -> t.verify(SECRET, 2, 0, System.currentTimeMillis())).doesNotThrowAnyException();
    assertThatCode(() -> t.verify(SECRET, 4, 1, System.currentTimeMillis())).doesNotThrowAnyException();
    Ticket parsed = Ticket.fromJson(new JsonObject(t.toJson().encode()));
    assertThat(parsed).isEqualTo(t);
  }

  @Test
  void forgedFieldsBreakTheSignature() {
    Ticket t = ticket(System.currentTimeMillis() + 60_000);
    JsonObject j = t.toJson().put("size", 1_000_000L);
    assertDenied(() -> Ticket.fromJson(j).verify(SECRET, 2, 0, System.currentTimeMillis()), "signature");
    JsonObject j2 = t.toJson().put("name", "other.txt");
    assertDenied(() -> Ticket.fromJson(j2).verify(SECRET, 2, 0, System.currentTimeMillis()), "signature");
    assertDenied(() -> t.verify("wrong-secret", 2, 0, System.currentTimeMillis()), "signature");
  }

  @Test
  void expiredTicketIsRefused() {
    Ticket t = ticket(System.currentTimeMillis() - 1);
    assertDenied(() -> t.verify(SECRET, 2, 0, System.currentTimeMillis()), "expired");
  }

  @Test
  void ticketForAnotherServerIsRefused() {
    Ticket t = ticket(System.currentTimeMillis() + 60_000);
    assertDenied(() -> t.verify(SECRET, 3, 0, System.currentTimeMillis()), "not for server 3");
    assertDenied(() -> t.verify(SECRET, 4, 0, System.currentTimeMillis()), "not for server 4");
    assertDenied(() -> t.verify(SECRET, 2, 5, System.currentTimeMillis()), "not for server 2");
  }

  @Test
  void malformedTicketIsAProtocolError() {
    assertThatThrownBy(() -> Ticket.fromJson(new JsonObject().put("name", "x")))
        .isInstanceOfSatisfying(BackupException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PROTOCOL));
  }

  @Test
  void onlyTheSecretMakesARelayProofAndItIsBoundToTicketAndHop() {
    Ticket t = ticket(System.currentTimeMillis() + 60_000);
    t.verifyRelay(SECRET, 1, t.relayProof(SECRET, 1));
    assertDenied(() -> t.verifyRelay(SECRET, 1, null), "previous server");
    assertDenied(() -> t.verifyRelay(SECRET, 1, t.relayProof("guess", 1)), "previous server");
    assertDenied(() -> t.verifyRelay(SECRET, 2, t.relayProof(SECRET, 1)), "previous server");
    assertDenied(() -> t.verifyRelay(SECRET, 1, t.mac()), "previous server");
    Ticket other = ticket(System.currentTimeMillis() + 120_000);
    assertDenied(() -> other.verifyRelay(SECRET, 1, t.relayProof(SECRET, 1)), "previous server");
  }

  private static void assertDenied(org.assertj.core.api.ThrowableAssert.ThrowingCallable c, String text) {
    assertThatThrownBy(c).isInstanceOfSatisfying(BackupException.class, e -> {
      assertThat(e.code()).isEqualTo(ErrorCode.DENIED);
      assertThat(e.getMessage()).contains(text);
    });
  }
}

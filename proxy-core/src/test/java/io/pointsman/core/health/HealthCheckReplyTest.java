package io.pointsman.core.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HealthCheckReplyTest {

    @Test
    void bodyIsUpstreamsTabIndentedJsonWithoutTrailingNewline() {
        HealthCheckReply r = new HealthCheckReply("ns1", "svc-a", 2, true);
        assertThat(r.body()).isEqualTo("{\n\t\"service\": {\n\t\t\"namespace\": \"ns1\",\n\t\t\"name\": \"svc-a\"\n\t},\n"
                + "\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}");
    }

    @Test
    void okOnlyWithLocalEndpointsAndAHealthyProxy() {
        assertThat(new HealthCheckReply("n", "s", 1, true).status()).isEqualTo(200);
        assertThat(new HealthCheckReply("n", "s", 3, true).status()).isEqualTo(200);
        assertThat(new HealthCheckReply("n", "s", 0, true).status()).isEqualTo(503);
        assertThat(new HealthCheckReply("n", "s", 3, false).status()).isEqualTo(503);
        assertThat(new HealthCheckReply("n", "s", 0, false).body()).contains("\"localEndpoints\": 0,")
                .contains("\"serviceProxyHealthy\": false");
    }

    @Test
    void quotesWhatJsonMustEscape() {
        assertThat(HealthCheckReply.quote("a\"b\\c\n\u0001")).isEqualTo("\"a\\\"b\\\\c\\n\\u0001\"");
    }

    @Test
    void negativeCountIsRefused() {
        assertThatThrownBy(() -> new HealthCheckReply("n", "s", -1, true))
                .hasMessage("localEndpoints: -1 (expected: >= 0)");
    }
}

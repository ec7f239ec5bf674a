package io.pointsman.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class IpAddressesTest {

    @ParameterizedTest
    @CsvSource({
        "10.0.0.1, 10.0.0.1",
        "2001:DB8::1, 2001:db8::1",
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
        "0:0:0:0:0:0:0:1, ::1",
        "::, ::",
        "fe80:0:0:0:0:0:0:0, fe80::",
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
    })
    void canonicalForms(String in, String out) {
        assertThat(IpAddresses.canonical(in)).isEqualTo(out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-1", "example.com", "localhost",
        "1.2.3.4 ", "::g", "1.2.3.4/32", "1..2.3", "12:34:56"})
    void rejectsWhatIsNotALiteral(String in) {
        assertThatThrownBy(() -> IpAddresses.canonical(in))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected: an IPv4 or IPv6 literal");
    }

    @ParameterizedTest
    @CsvSource({
        "' 203.0.113.0/25', 203.0.113.0/25",
        "10.1.2.3/8, 10.0.0.0/8",
        "fd00::1/64, fd00::/64",
        "0.0.0.0/0, 0.0.0.0/0",
    })
    void cidrs(String in, String out) {
        assertThat(IpAddresses.canonicalCidr(in)).isEqualTo(out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "x/8", "fd00::/129", "10.0.0.0/8a"})
    void badCidrs(String in) {
        assertThatThrownBy(() -> IpAddresses.canonicalCidr(in)).isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @CsvSource({
        "10.0.0.0/8, 10.255.1.1, true",
        "10.0.0.0/8, 11.0.0.1, false",
        "192.168.0.0/24, 192.168.0.255, true",
        "fd00::/64, fd00::5, true",
        "fd00::/64, 10.0.0.1, false",
        "0.0.0.0/0, 1.2.3.4, true",
    })
    void containment(String cidr, String ip, boolean inside) {
        assertThat(IpAddresses.cidrContains(cidr, ip)).isEqualTo(inside);
    }
}

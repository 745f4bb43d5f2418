<?php
// metadata/saml20-idp-remote.php of the SP: where it sends the
// AuthnRequest, by the binding of the case (HTTP-Redirect or HTTP-POST).
$metadata['https://idp.saml.test:8443/simplesaml/saml2/idp/metadata.php'] = [
    'SingleSignOnService' => [
        [
            'Binding' => '@SSO_BINDING@',
            'Location' => 'https://idp.saml.test:8443/simplesaml/saml2/idp/SSOService.php',
        ],
    ],
    'SingleLogoutService' => [
        [
            'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
            'Location' => 'https://idp.saml.test:8443/simplesaml/saml2/idp/SingleLogoutService.php',
        ],
    ],
    'certificate' => 'idp-signing.pem',
];

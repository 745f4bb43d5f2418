<?php
// metadata/saml20-idp-hosted.php of the IdP.
$metadata['https://idp.saml.test:8443/simplesaml/saml2/idp/metadata.php'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'signing.key',
    'certificate' => 'signing.pem',
    'auth' => 'example-userpass',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
];
